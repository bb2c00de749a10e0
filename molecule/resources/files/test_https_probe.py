"""https_probe.py tells the answers apart, against a TLS server on loopback that
asks for basic auth and serves a page titled like MRQ's dashboard (the cluster
scenario points it at nginx, whose answer to plain HTTP is a 400)."""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "tests"))
from pki import make_ca, make_cert  # noqa: E402

CREDENTIALS = "admin:pa:ss w@rd"


class Dashboard(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        expected = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Login Required"')
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<html><title>MRQ Dashboard</title></html>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    ca = make_ca(tmp_path / "ca")
    cert, key = make_cert(ca, tmp_path / "server", ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Dashboard)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], ca.cert
    httpd.shutdown()
    httpd.server_close()


def test_only_the_client_trusting_the_ca_gets_in_and_only_with_credentials(server, tmp_path: Path) -> None:
    port, ca_cert = server
    credentials = tmp_path / "credentials"
    credentials.write_text(CREDENTIALS + "\n")
    probe = [
        sys.executable,
        str(HERE / "https_probe.py"),
        "127.0.0.1",
        str(port),
        str(ca_cert),
        str(credentials),
    ]
    seen = json.loads(subprocess.run(probe, capture_output=True, text=True, check=True, timeout=60).stdout)
    assert "error" in seen["plain"]  # this server drops plain HTTP; nginx answers 400
    assert "CERTIFICATE_VERIFY_FAILED" in seen["untrusted"]["error"]
    assert seen["trusted"] == {"status": 401, "dashboard": False, "asks_credentials": True}
    assert seen["trusted_with_credentials"] == {"status": 200, "dashboard": True, "asks_credentials": False}
