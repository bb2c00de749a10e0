"""The deployed dashboard command (mrqlab-dashboard): a production WSGI server
(gevent's), basic auth, and a prompt stop on SIGTERM (what systemd sends)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import free_port


def get(url: str, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Server", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Server", "")


def test_dashboard_runs_on_a_production_server_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    command = Path(sys.executable).parent / "mrqlab-dashboard"
    env = {**os.environ, "MRQ_DASHBOARD_HTTPAUTH": "admin:pa:ss wörd"}
    args = [str(command), "--dashboard_ip", "127.0.0.1", "--dashboard_port", str(port)]
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):
            try:
                status, server = get(url)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the dashboard did not answer within 10 s")
        assert status == 401
        assert "Werkzeug" not in server, server  # not the development server
        assert get(url, "admin:pa:ss wörd")[0] == 200
        proc.terminate()
        assert proc.wait(timeout=5) is not None
    finally:
        proc.kill()
        output = proc.communicate()[0]
    assert "development server" not in output, output[-1000:]
