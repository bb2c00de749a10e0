"""The deployed dashboard command (mrqlab-dashboard): a production WSGI server
(gevent's), basic auth, and a prompt stop on SIGTERM (what systemd sends); on
the socket systemd passes (mrq_dashboard_tls), and then never on TCP."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import free_port, socket_activated


def dashboard_command(port: int) -> list[str]:
    """mrqlab-dashboard of this venv, configured to listen on 127.0.0.1:`port` (TCP)."""
    command = Path(sys.executable).parent / "mrqlab-dashboard"
    return [str(command), "--dashboard_ip", "127.0.0.1", "--dashboard_port", str(port)]


@contextmanager
def running(output: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """The dashboard as a child process. Leaving the block, SIGTERM must stop it
    within 5 s (what systemd sends); its output is appended to `output`."""
    proc = subprocess.Popen(**popen, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
        proc.terminate()
        assert proc.wait(timeout=5) is not None
    finally:
        proc.kill()
        output.append(proc.communicate()[0])


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
    env = {**os.environ, "MRQ_DASHBOARD_HTTPAUTH": "admin:pa:ss wörd"}
    output: list[str] = []
    with running(output, args=dashboard_command(port), env=env, cwd=tmp_path):
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
    assert "development server" not in output[0], output[0][-1000:]


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket, as nginx's proxy_pass http://unix:... speaks it."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))


def get_unix(path: Path, auth: str | None = None, timeout: float = 5) -> tuple[int, str]:
    connection = UnixHTTPConnection(path, timeout)
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    try:
        connection.request("GET", "/", headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def tcp_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_dashboard_serves_on_the_socket_systemd_passes_and_opens_no_tcp_port(tmp_path: Path) -> None:
    """mrq_dashboard_tls: mrq-dashboard.socket is its only way in (nginx connects there)."""
    port, path = free_port(), tmp_path / "http.sock"
    env = {**os.environ, "MRQ_DASHBOARD_HTTPAUTH": "admin:pa:ss wörd", "MRQLAB_DASHBOARD_LISTEN": "systemd"}
    output: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen()
        run = socket_activated(listener, dashboard_command(port))
        with running(output, **run, env=env, cwd=tmp_path):
            # The socket listens from the start (as systemd's): the first request waits for the app.
            status, body = get_unix(path, timeout=30)
            assert status == 401, body
            status, body = get_unix(path, "admin:pa:ss wörd")
            assert status == 200 and "MRQ Dashboard" in body, body[:300]
            assert not tcp_open(port)
    assert "Traceback" not in output[0], output[0][-1000:]


def test_dashboard_told_to_use_systemds_socket_refuses_to_listen_on_tcp_without_one(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MRQLAB_DASHBOARD_LISTEN": "systemd"}
    done = subprocess.run(
        dashboard_command(port), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "no socket from systemd" in done.stderr, done.stderr[-1000:]
    assert not tcp_open(port)
