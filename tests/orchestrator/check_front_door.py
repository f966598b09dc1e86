#!/usr/bin/env python3
"""The orchestrator's front door, against a real sdwan-orchd (issue 18, item 1).

usage: check_front_door.py SDWAN_ORCHD [--rss-only]

- a refused request is answered from its headers: 401 for a 4 MiB upload whose
  body was never sent; 401 (never 409) for a used or wrong bootstrap token;
- the daemon's memory under 200 concurrent unauthenticated 4 MiB uploads
  (peak RSS above idle; the goal is < 50 MB; asserted with that bound);
- failed authentications throttled: 429 with Retry-After, and back after it;
- connections that never authenticate: timed out, and capped;
- HTTPS: TLS 1.0/1.1 and CBC suites refused, TLS 1.2 AEAD and 1.3 accepted,
  HSTS on every response.
Prints the figures it measured.  Exit 0 when all hold, 77 when openssl is
missing (TLS part), 1 otherwise.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ORCHD = sys.argv[1]
BODY = 4 << 20
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Orchd:
    def __init__(self, tmp, name, *args, tls=None):
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        db = os.path.join(self.dir, "orch.db")
        self.admin = subprocess.check_output(
            [ORCHD, "token", "add", "--db", db, "--role", "admin"], text=True).strip()
        pf = os.path.join(self.dir, "port")
        cmd = [ORCHD, "--db", db, "--listen", "127.0.0.1", "--port", "0", "--port-file", pf,
               "--access-log", os.path.join(self.dir, "access.log"), *args]
        cmd += ["--cert", tls[0], "--key", tls[1]] if tls else ["--insecure-http"]
        self.err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen(cmd, stderr=self.err)
        for _ in range(500):
            if os.path.exists(pf):
                self.port = int(open(pf).read())
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"sdwan-orchd exited: {open(self.err.name).read()}")
            time.sleep(0.01)
        raise SystemExit("sdwan-orchd did not start")

    def rss_kb(self, field="VmRSS"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        check(rc == 0, f"sdwan-orchd ({os.path.basename(self.dir)}) stopped cleanly (exit {rc})")


def head(method, path, token=None, length=None, ctype="application/x-protobuf"):
    h = f"{method} {path} HTTP/1.1\r\nHost: orch\r\n"
    if token:
        h += f"Authorization: Bearer {token}\r\n"
    if length is not None:
        h += f"Content-Type: {ctype}\r\nContent-Length: {length}\r\n"
    return (h + "\r\n").encode()


def read_response(s, timeout=5.0):
    """(status, headers dict, body) of one response, or (None, {}, b'')"""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            return None, {}, b""
        hdr, body = data.split(b"\r\n\r\n", 1)
        lines = hdr.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:] if ":" in line)}
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body
    except (socket.timeout, ConnectionError):
        return None, {}, b""


def request(o, method, path, token=None, body=None, ctype="application/json"):
    s = socket.create_connection(("127.0.0.1", o.port))
    s.sendall(head(method, path, token, len(body) if body is not None else None, ctype) +
              (body or b""))
    r = read_response(s)
    s.close()
    return r


def api(o, method, path, body=None):
    st, _, b = request(o, method, path, o.admin,
                       json.dumps(body).encode() if body is not None else None)
    return st, (json.loads(b) if b else None)


def bootstrap(o, site):
    st, j = api(o, "POST", f"/api/v1/sites/{site}/bootstrap")
    assert st == 201, st
    return j["bootstrap_token"]


def pb_register(site, key=b"\x01" * 32):
    """sdwan.v1.Register{site=1, public_key=3, hostname=5} by hand (no token in it)"""
    def field(n, b):
        return bytes([(n << 3) | 2, len(b)]) + b
    return field(1, site.encode()) + field(3, key) + field(5, b"h")


# ---------------------------------------------------------------- plain HTTP

def test_refused_from_headers(o):
    # a 4 MiB upload announced, not one byte of it sent: the 401 comes anyway
    for path, tok in (("/edge/v1/telemetry", "0" * 64), ("/edge/v1/register", "0" * 64),
                      ("/edge/v1/register", None), ("/api/v1/sites", "nope")):
        s = socket.create_connection(("127.0.0.1", o.port))
        t0 = time.monotonic()
        s.sendall(head("POST", path, tok, BODY,
                       "application/json" if path.startswith("/api") else
                       "application/x-protobuf"))
        st, h, b = read_response(s, 3)
        ms = (time.monotonic() - t0) * 1000
        check(st == 401, f"POST {path} token={'set' if tok else 'none'}, 4 MiB announced, "
              f"no body sent: {st} after {ms:.1f} ms (want 401 at once)")
        check("Bearer" in h.get("www-authenticate", ""), f"  WWW-Authenticate: "
              f"{h.get('www-authenticate')}")
        # and the server closes: the unread body is never read
        s.settimeout(3)
        try:
            rest = s.recv(1)
        except (socket.timeout, ConnectionError):
            rest = None
        check(rest == b"", "  then the connection is closed")
        s.close()


def test_register_header_401_never_409(o):
    api(o, "POST", "/api/v1/sites", {"name": "br9", "role": "branch",
                                      "underlays": [{"label": "inet"}]})
    tok = bootstrap(o, "br9")
    st, _, _ = request(o, "POST", "/edge/v1/register", tok, pb_register("br9"),
                       "application/x-protobuf")
    check(st == 200, f"register with the token in the header: {st}")
    st, _, b = request(o, "POST", "/edge/v1/register", tok, pb_register("br9"),
                       "application/x-protobuf")
    check(st == 401, f"the same token again (site registered): {st} {b[:80]!r} (want 401, "
          "not 409)")
    st, _, _ = request(o, "POST", "/edge/v1/register", "f" * 64, pb_register("br9"),
                       "application/x-protobuf")
    check(st == 401, f"a wrong token for a registered site: {st}")
    st, _, _ = request(o, "POST", "/edge/v1/register", "f" * 64, pb_register("nosuch"),
                       "application/x-protobuf")
    check(st == 401, f"a wrong token for no site: {st}")


def upload_flood(o, n, path, token):
    """n connections at once, each announcing and pushing a 4 MiB body as fast
    as the server takes it; returns (statuses, peak RSS kB seen while sampling)"""
    socks, sent, status, peak = [], {}, {}, 0
    chunk = b"\0" * 65536
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", o.port))
        s.setblocking(False)
        s.send(head("POST", path, token, BODY))
        socks.append(s)
        sent[s] = 0
    buf = {s: b"" for s in socks}
    deadline = time.monotonic() + 60
    live = set(socks)
    while live and time.monotonic() < deadline:
        _, w, _ = select.select([], [s for s in live if sent[s] < BODY], [], 0)
        for s in w:
            try:
                sent[s] += s.send(chunk[:min(len(chunk), BODY - sent[s])])
            except (BlockingIOError, ConnectionError):
                pass
        r, _, _ = select.select(list(live), [], [], 0.01)
        for s in r:
            try:
                d = s.recv(65536)
            except (BlockingIOError, ConnectionError):
                d = b""
            buf[s] += d
            if not d or b"\r\n\r\n" in buf[s]:
                if buf[s].startswith(b"HTTP/1.1 "):
                    status[s] = int(buf[s][9:12])
                live.discard(s)
        peak = max(peak, o.rss_kb())
    for s in socks:
        s.close()
    return [status.get(s) for s in socks], peak, sum(sent.values())


def test_memory_under_unauthenticated_uploads(o, n=200):
    time.sleep(0.3)
    idle = o.rss_kb()
    for path, tok in (("/edge/v1/register", "0" * 64), ("/edge/v1/telemetry", "0" * 64),
                      ("/api/v1/sites", None)):
        st, peak, pushed = upload_flood(o, n, path, tok)
        hwm = o.rss_kb("VmHWM")
        n401 = sum(1 for s in st if s == 401)
        print(f"figure: {n} x 4 MiB unauthenticated uploads to {path}: {n401} answered 401; "
              f"client pushed {pushed / 2**20:.1f} MiB in all (kernel buffers); RSS idle "
              f"{idle / 1024:.1f} MB, peak seen {peak / 1024:.1f} MB, VmHWM "
              f"{hwm / 1024:.1f} MB (+{(hwm - idle) / 1024:.1f} MB)", flush=True)
        check(n401 == n, f"  every upload answered 401 ({n401}/{n})")
        check(hwm - idle < 50 * 1024, f"  peak RSS above idle {(hwm - idle) / 1024:.1f} MB < 50 MB")
    time.sleep(0.5)
    after = o.rss_kb()
    print(f"figure: RSS after the floods: {after / 1024:.1f} MB (idle {idle / 1024:.1f} MB)")


def test_throttle(tmp):
    o = Orchd(tmp, "throttle", "--auth-fail-limit", "3", "--auth-fail-window", "2")
    st = [request(o, "GET", "/api/v1/sites", "wrong-%d" % i)[0] for i in range(3)]
    check(st == [401, 401, 401], f"3 wrong tokens: {st}")
    st, h, b = request(o, "GET", "/api/v1/sites", o.admin)
    check(st == 429, f"then even the right token from that address: {st} (want 429)")
    ra = h.get("retry-after", "")
    check(ra.isdigit() and 1 <= int(ra) <= 2, f"  Retry-After: {ra!r} (1..2)")
    check(b"retry" in b, f"  says why: {b[:90]!r}")
    # a missing token is refused cheaply and is not counted
    st, _, _ = request(o, "GET", "/healthz")
    check(st == 200, f"/healthz (no auth) still answers: {st}")
    time.sleep(int(ra or "2") + 0.2)
    st, _, _ = request(o, "GET", "/api/v1/sites", o.admin)
    check(st == 200, f"after Retry-After the right token works: {st}")
    for _ in range(5):
        request(o, "GET", "/api/v1/sites")  # no token: not counted
    st, _, _ = request(o, "GET", "/api/v1/sites", o.admin)
    check(st == 200, f"requests without a token are not counted as failures: {st}")
    st, _, body = request(o, "GET", "/metrics", o.admin)
    m = body.decode()
    check("sdwan_orch_auth_throttled_total 1" in m, "/metrics: sdwan_orch_auth_throttled_total 1")
    check("sdwan_orch_auth_failures_total 8" in m, "/metrics: sdwan_orch_auth_failures_total 8")
    o.stop()
    log = open(o.err.name).read()
    check("127.0.0.1: 3 failed authentications" in log and log.count("refused 429") == 1,
          "the block is logged once, with the address")


def test_unauthenticated_connections(tmp):
    o = Orchd(tmp, "unauth", "--unauth-timeout", "1", "--max-unauth-connections", "5")
    # idle, never a request: closed after the short timeout
    s = socket.create_connection(("127.0.0.1", o.port))
    t0 = time.monotonic()
    s.settimeout(6)
    try:
        d = s.recv(1)
    except (socket.timeout, ConnectionError):
        d = None
    dt = time.monotonic() - t0
    check(d == b"" and dt < 4, f"an idle connection that never authenticates: closed after "
          f"{dt:.1f} s (--unauth-timeout 1)")
    s.close()
    time.sleep(0.2)
    # five held open: the sixth is refused at accept
    held = [socket.create_connection(("127.0.0.1", o.port)) for _ in range(5)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", o.port))
    extra.settimeout(2)
    try:
        extra.sendall(head("GET", "/healthz"))
        st = read_response(extra, 2)[0]
    except ConnectionError:
        st = None
    check(st is None, f"the 6th unauthenticated connection (cap 5) is refused: {st}")
    extra.close()
    # an authenticated keep-alive connection no longer counts, and outlives the
    # short timeout
    for s in held:
        s.close()
    time.sleep(0.3)
    a = socket.create_connection(("127.0.0.1", o.port))
    a.sendall(head("GET", "/api/v1/sites", o.admin))
    check(read_response(a)[0] == 200, "an authenticated request")
    time.sleep(1.8)
    a.sendall(head("GET", "/api/v1/sites", o.admin))
    check(read_response(a)[0] == 200, "its keep-alive connection outlives --unauth-timeout")
    a.close()
    o.stop()


# ---------------------------------------------------------------- HTTPS

def s_client(port, *args, req=None):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        "orch", *args], input=req or b"", capture_output=True, timeout=20)
    return p.returncode, p.stdout.decode("latin-1", "replace")


def test_tls(tmp):
    if not shutil.which("openssl"):
        print("skip: no openssl command")
        return 77
    key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=orch"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    p = subprocess.run([ORCHD, "--db", os.path.join(tmp, "bad.db"), "--port", "0", "--cert", cert,
                        "--key", key, "--tls-priority", "SECURE128:+NOSUCH:-VERS-ALL"],
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 1 and 'refuses it at "+NOSUCH' in p.stderr,
          f"a bad --tls-priority is refused at start, naming where: {p.stderr.strip()!r}")
    o = Orchd(tmp, "tls", tls=(cert, key))
    # SECLEVEL=0 so that our client offers what old clients would
    for v in ("-tls1", "-tls1_1"):
        rc, out = s_client(o.port, v, "-cipher", "ALL:@SECLEVEL=0")
        check(rc != 0 and "Cipher is (NONE)" in out, f"openssl s_client {v}: refused (exit {rc})")
    rc, out = s_client(o.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")
    check(rc != 0, f"TLS 1.2 with a CBC-SHA1 suite: refused (exit {rc})")
    rc, out = s_client(o.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384")
    check(rc != 0, f"TLS 1.2 with a CBC-SHA384 suite: refused (exit {rc})")
    rc, out = s_client(o.port, "-tls1_2", "-cipher", "AES128-GCM-SHA256")
    check(rc != 0, f"TLS 1.2 with AES128-GCM-SHA256 (RSA key exchange, no forward secrecy): "
          f"refused (exit {rc})")
    rc, out = s_client(o.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    check(rc == 0 and "ECDHE-ECDSA-AES128-GCM-SHA256" in out,
          f"TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256: accepted (exit {rc})")
    rc, out = s_client(o.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
    check(rc == 0, f"TLS 1.2 with ECDHE-ECDSA-CHACHA20-POLY1305: accepted (exit {rc})")
    rc, out = s_client(o.port, "-tls1_3", "-ign_eof",
                       req=b"GET /healthz HTTP/1.1\r\nHost: orch\r\nConnection: close\r\n\r\n")
    # (s_client exits 1 here: the server closes after the answer)
    check("New, TLSv1.3, Cipher is TLS_" in out, "TLS 1.3: accepted")
    check("HTTP/1.1 200" in out, "  GET /healthz over it: 200")
    check("Strict-Transport-Security: max-age=31536000" in out, "  with HSTS")
    rc, out = s_client(o.port, "-tls1_3", "-ign_eof",
                       req=b"GET /api/v1/sites HTTP/1.1\r\nHost: orch\r\n"
                           b"Authorization: Bearer nope\r\nConnection: close\r\n\r\n")
    check("HTTP/1.1 401" in out and "Strict-Transport-Security" in out,
          "  a 401 carries HSTS too")
    o.stop()
    return 0


def main():
    tmp = tempfile.mkdtemp(prefix="orch-front-")
    rc = 0
    try:
        if "--rss-only" not in sys.argv:
            rc = test_tls(tmp)
            test_throttle(tmp)
            test_unauthenticated_connections(tmp)
        # --rss-only: any sdwan-orchd, e.g. an older one for a before figure
        o = Orchd(tmp, "plain", *([] if "--rss-only" in sys.argv else
                                  ["--auth-fail-limit", "100000"]))
        if "--rss-only" not in sys.argv:
            test_refused_from_headers(o)
            test_register_header_401_never_409(o)
        test_memory_under_unauthenticated_uploads(o)
        o.stop()
    finally:
        if not os.environ.get("ORCH_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed:\n  " + "\n  ".join(failures))
        return 1
    return 0 if rc != 77 else 77


if __name__ == "__main__":
    sys.exit(main())
