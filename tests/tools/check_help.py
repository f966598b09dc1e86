#!/usr/bin/env python3
"""check_help.py BUILD_DIR — every binary the build makes answers --help (and
-h, and COMMAND --help for each of its subcommands) with its usage on stdout
and exit status 0, without contacting anything: the orchestrator URL and the
edge control socket point at listeners of this test, which must see no
connection.  Binaries are found in the build tree (every executable outside
tests/ and CMakeFiles/), so a new one is covered without editing this file."""
import os
import socket
import subprocess
import sys
import tempfile

build = os.path.realpath(sys.argv[1])
# subcommands whose --help must also work (the tool's own help lists them)
SUB = {
    "sdwan-policy": ["check", "show", "decide", "nft"],
    "sdwan-bundle": ["encode", "decode", "check"],
    "sdwan-ike-tool": ["pubkey", "run"],
    "flowmeter": ["send", "recv"],
    "linkemu": ["ctl", "params"],
    "sdwan-probe": ["send", "reflect"],
    "sdwanctl": ["site", "site add", "policy", "policy diff", "policy apply", "rollout",
                 "status", "events", "webhook", "webhook add", "edge", "edge status"],
}

bins = []
for root, dirs, files in os.walk(build):
    dirs[:] = [d for d in dirs if d not in ("CMakeFiles", "tests", "Testing", "deps")]
    for f in files:
        p = os.path.join(root, f)
        if os.access(p, os.X_OK) and not f.endswith((".so", ".a", ".sh")) and "." not in f:
            bins.append(p)
if len(bins) < 8:
    sys.exit(f"only {len(bins)} binaries found under {build}: wrong build dir?")

tcp = socket.socket()
tcp.bind(("127.0.0.1", 0))
tcp.listen(16)
tcp.setblocking(False)
tmp = tempfile.mkdtemp()
unix = socket.socket(socket.AF_UNIX)
unix.bind(os.path.join(tmp, "ctl.sock"))
unix.listen(16)
unix.setblocking(False)
env = dict(os.environ, SDWAN_URL="http://127.0.0.1:%d" % tcp.getsockname()[1],
           SDWAN_TOKEN="x", SDWAN_EDGE_SOCKET=os.path.join(tmp, "ctl.sock"))

fails = []
n = 0
for b in sorted(bins):
    name = os.path.basename(b)
    cmds = [["--help"], ["-h"]] + [s.split() + ["--help"] for s in SUB.get(name, [])]
    for c in cmds:
        n += 1
        r = subprocess.run([b] + c, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        what = "%s %s" % (name, " ".join(c))
        if r.returncode != 0:
            fails.append("%s: exit %d (%s)" % (what, r.returncode,
                                                r.stderr.decode(errors="replace").strip()[:100]))
        elif "usage" not in r.stdout.decode(errors="replace").lower():
            fails.append("%s: no usage on stdout" % what)
for s, what in ((tcp, "orchestrator URL"), (unix, "edge control socket")):
    try:
        s.accept()
        fails.append("a --help contacted the %s" % what)
    except BlockingIOError:
        pass
print("%d binaries, %d help invocations" % (len(bins), n))
for f in fails:
    print("FAIL - " + f)
sys.exit(1 if fails else 0)
