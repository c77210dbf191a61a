"""Stand-ins for `etcd` and `kube-apiserver` (small Python programs) so the harness's own logic runs
without the real binaries: each records its argv, answers `--help`, and serves its health URL.

- fake etcd: plain HTTP `GET /health` on the port of `--listen-client-urls`;
- fake kube-apiserver: HTTPS on `--bind-address:--secure-port` with `<cert-dir>/apiserver.crt/.key`;
  `GET /readyz` answers 200 only to a client certificate issued by `--client-ca-file` whose
  organization is `system:masters` (401 without one, 403 for another group), and only once the
  etcd of `--etcd-servers` answers `/health`.

`FAKE_MODE` in the environment: `exit` (exit 3 at once, after a line on stderr), `never-ready`
(serve 503), `stubborn` (ignore SIGTERM).
"""

from __future__ import annotations

import sys
from pathlib import Path

COMMON = r"""
import json, os, signal, sys, time
from pathlib import Path

NAME = Path(sys.argv[0]).name
HELP = {"etcd": ["--data-dir", "--listen-client-urls", "--unsafe-no-fsync"],
        "kube-apiserver": ["--secure-port", "--etcd-servers", "--cert-dir"]}
if "--help" in sys.argv[1:]:
    print(f"Usage of {NAME}:")
    for flag in HELP[NAME]:
        print(f"      {flag} string   a flag")
    sys.exit(0)
record = Path(os.environ["FAKE_RECORD_DIR"]) / f"{NAME}.{os.getpid()}.json"
record.write_text(json.dumps({"argv": sys.argv[1:], "pid": os.getpid(), "pgid": os.getpgid(0)}))
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
mode = os.environ.get("FAKE_MODE", "")
if mode == "exit":
    print(f"{NAME}: refusing to start (FAKE_MODE=exit)", file=sys.stderr)
    sys.exit(3)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
"""

ETCD = r"""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/health" and mode != "never-ready"
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(b'{"health":"true"}' if ok else b"{}")
    def log_message(self, *a): pass

url = urlsplit(args["listen-client-urls"])
Path(args["data-dir"]).mkdir(parents=True, exist_ok=True)
ThreadingHTTPServer((url.hostname, url.port), Handler).serve_forever()
"""

APISERVER = r"""
import ssl, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

cert_dir = Path(args["cert-dir"])

def etcd_healthy():
    try:
        with urllib.request.urlopen(args["etcd-servers"] + "/health", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        peer = self.connection.getpeercert()
        groups = [v for rdn in (peer or {}).get("subject", ()) for k, v in rdn if k == "organizationName"]
        if not peer:
            code = 401
        elif "system:masters" not in groups:
            code = 403
        elif self.path != "/readyz" or mode == "never-ready" or not etcd_healthy():
            code = 503
        else:
            code = 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"no")
    def log_message(self, *a): pass

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert_dir / "apiserver.crt", cert_dir / "apiserver.key")
context.load_verify_locations(args["client-ca-file"])
context.verify_mode = ssl.CERT_OPTIONAL
server = ThreadingHTTPServer((args["bind-address"], int(args["secure-port"])), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def install(folder: Path) -> Path:
    """Write executable `etcd` and `kube-apiserver` into `folder`; returns it (a KUBEBUILDER_ASSETS)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (("etcd", ETCD), ("kube-apiserver", APISERVER)):
        path = folder / name
        path.write_text(f"#!{sys.executable}\n{COMMON}\n{body}", encoding="utf-8")
        path.chmod(0o755)
    return folder
