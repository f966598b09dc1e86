#!/bin/bash
# docs/alerts.rules.yml: promtool accepts it and every alert fires as
# tests/orchestrator/alerts.test.yml expects.  Skips (exit 77) without promtool.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool absent (Debian package prometheus; tests/setup installs it)"
	exit 77
fi
promtool check rules "$here/../../docs/alerts.rules.yml"
cd "$here" && promtool test rules alerts.test.yml
