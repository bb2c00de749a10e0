"""systemd's socket activation as sd_listen_fds(3) reads it: the socket on file
descriptor 3 is taken only when LISTEN_PID names this process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import socket_activated
from mrqlab.activation import ActivationError, systemd_listener

SHOW = (
    "import json, os; from mrqlab.activation import systemd_listener; s = systemd_listener();"
    " print(json.dumps([s.family.name, s.type.name, s.getsockname(), os.get_inheritable(s.fileno()),"
    " [k for k in os.environ if k.startswith('LISTEN_')]]))"
)


def test_no_variables_no_socket() -> None:
    assert systemd_listener({}, pid=42) is None


def test_variables_of_another_process_are_not_ours_and_are_removed() -> None:
    environ = {"LISTEN_PID": "41", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "http", "PATH": "/bin"}
    assert systemd_listener(environ, pid=42) is None
    assert environ == {"PATH": "/bin"}


@pytest.mark.parametrize("fds", ["0", "", "one"])
def test_no_socket_counted(fds: str) -> None:
    assert systemd_listener({"LISTEN_PID": "42", "LISTEN_FDS": fds}, pid=42) is None


def test_more_than_one_socket_is_refused() -> None:
    with pytest.raises(ActivationError, match="2 sockets"):
        systemd_listener({"LISTEN_PID": "42", "LISTEN_FDS": "2"}, pid=42)


def test_the_socket_on_descriptor_3_of_the_process_named(tmp_path: Path) -> None:
    path = tmp_path / "http.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen()
        run = socket_activated(listener, [sys.executable, "-c", SHOW])
        out = subprocess.run(**run, capture_output=True, text=True, check=True)
    # A Unix stream socket, not passed on to the process's children, the variables gone.
    assert json.loads(out.stdout) == ["AF_UNIX", "SOCK_STREAM", str(path), False, []]
