#!/usr/bin/env python3
"""Check orchestrator/openapi.yaml: OpenAPI 3.0 structure, every $ref resolves,
every schema is a valid JSON Schema (draft 4, which OpenAPI 3.0 schemas extend),
path parameters match the templates, and the paths and methods are exactly the
routes sdwan-orchd serves (sdwan-orchd --list-routes).

usage: check_openapi.py OPENAPI.yaml SDWAN-ORCHD
"""
import re
import subprocess
import sys

import jsonschema
import yaml

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def resolve(doc, ref, where):
    if not ref.startswith("#/"):
        err(where, f"external $ref {ref} not allowed")
        return None
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            err(where, f"$ref {ref} does not resolve")
            return None
        node = node[part]
    return node


def walk_refs(doc, node, where):
    if isinstance(node, dict):
        if "$ref" in node:
            if set(node) != {"$ref"}:
                err(where, "$ref with sibling keys")
            resolve(doc, node["$ref"], where)
        for k, v in node.items():
            walk_refs(doc, v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(doc, v, f"{where}[{i}]")


def strip_oas(schema):
    """OpenAPI 3.0 schema → JSON Schema draft 4 (drop the OAS-only keywords)."""
    if isinstance(schema, dict):
        return {k: strip_oas(v) for k, v in schema.items()
                if k not in ("nullable", "example", "readOnly", "writeOnly", "format")}
    if isinstance(schema, list):
        return [strip_oas(v) for v in schema]
    return schema


def check_schema(schema, where):
    try:
        jsonschema.Draft4Validator.check_schema(strip_oas(schema))
    except jsonschema.SchemaError as e:
        err(where, f"invalid schema: {e.message}")


def main():
    spec_path, orchd = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        sys.exit(f"{spec_path}: not a mapping")
    if not re.fullmatch(r"3\.0\.\d+", str(doc.get("openapi", ""))):
        err("openapi", "must be 3.0.x")
    info = doc.get("info") or {}
    for k in ("title", "version"):
        if not isinstance(info.get(k), str):
            err("info", f"{k} required")
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for req in doc.get("security", []):
        for name in req:
            if name not in schemes:
                err("security", f"unknown scheme {name}")
    walk_refs(doc, doc, "#")
    for name, s in ((doc.get("components") or {}).get("schemas") or {}).items():
        check_schema(s, f"components/schemas/{name}")

    spec_routes = set()
    spec_codes = {}
    op_ids = set()
    for path, item in (doc.get("paths") or {}).items():
        if not path.startswith("/"):
            err(path, "path must start with /")
        templ = set(re.findall(r"{([^}]+)}", path))
        common = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            if method not in METHODS:
                err(path, f"unknown key {method}")
                continue
            where = f"{method.upper()} {path}"
            spec_routes.add((method.upper(), re.sub(r"{[^}]+}", "{}", path)))
            spec_codes[(method.upper(), re.sub(r"{[^}]+}", "{}", path))] = {
                str(c) for c in (op.get("responses") or {})}
            oid = op.get("operationId")
            if not oid or oid in op_ids:
                err(where, "operationId missing or duplicate")
            op_ids.add(oid)
            if not op.get("responses"):
                err(where, "no responses")
            for code, resp in (op.get("responses") or {}).items():
                if not re.fullmatch(r"[1-5]\d\d|default", str(code)):
                    err(where, f"bad status {code}")
                if "$ref" in resp:
                    resp = resolve(doc, resp["$ref"], where) or {}
                if "description" not in resp:
                    err(where, f"response {code} without description")
                for ctype, media in (resp.get("content") or {}).items():
                    if "schema" in media:
                        check_schema(media["schema"], f"{where} {code} {ctype}")
            for sec in op.get("security", []):
                for name in sec:
                    if name not in schemes:
                        err(where, f"unknown scheme {name}")
            params = []
            for p in common + op.get("parameters", []):
                if "$ref" in p:
                    p = resolve(doc, p["$ref"], where) or {}
                params.append(p)
                if p.get("in") not in ("path", "query", "header", "cookie"):
                    err(where, f"parameter {p.get('name')}: bad 'in'")
                if p.get("in") == "path" and p.get("required") is not True:
                    err(where, f"path parameter {p.get('name')} must be required")
            in_path = {p.get("name") for p in params if p.get("in") == "path"}
            if in_path != templ:
                err(where, f"path parameters {sorted(in_path)} != template {sorted(templ)}")
            rb = op.get("requestBody")
            if rb is not None and not rb.get("content"):
                err(where, "requestBody without content")

    out = subprocess.run([orchd, "--list-routes"], check=True, capture_output=True,
                         text=True).stdout
    served = set()
    for line in out.splitlines():
        method, path, auth = line.split()
        route = (method, re.sub(r"{[^}]+}", "{}", path))
        served.add(route)
        # the front door answers 401 and 429 on every route that takes a
        # secret, and neither on the others
        codes = spec_codes.get(route, set())
        for code in ("401", "429"):
            if (auth != "none") != (code in codes):
                err(f"{method} {path}", f"auth {auth}: {code} "
                    f"{'not documented' if auth != 'none' else 'documented but never sent'}")
    for m, p in sorted(served - spec_routes):
        err("routes", f"{m} {p} is served but not in the OpenAPI file")
    for m, p in sorted(spec_routes - served):
        err("routes", f"{m} {p} is in the OpenAPI file but not served")

    if errors:
        print("\n".join(errors))
        print(f"{len(errors)} problem(s) in {spec_path}")
        return 1
    print(f"{spec_path}: OpenAPI {doc['openapi']}, {len(spec_routes)} operations, "
          f"all match sdwan-orchd's routes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
