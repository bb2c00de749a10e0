"""Shared by the stand-in's tests: a real stand-in `mongod` on a free loopback port."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Mongod:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serve(command: list[str], tmp: Path) -> Iterator[Mongod]:
    """Runs `command --config <conf>` (the wrapper) on 127.0.0.1; SIGTERM on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp / "mongod.conf"
    conf.write_text(
        f"storage:\n  dbPath: {tmp / 'db'}\n"
        f"systemLog:\n  destination: file\n  path: {tmp / 'mongod.log'}\n"
        f"net:\n  port: {port}\n  bindIp: 127.0.0.1\n"
    )
    proc = subprocess.Popen([*command, "--config", str(conf)])
    try:
        yield Mongod(port, proc, tmp / "mongod.log")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def loopback_mongod() -> Callable[[list[str], Path], contextlib.AbstractContextManager[Mongod]]:
    return serve
