"""Shared by the stand-in's tests: a real stand-in `mongod` on a free loopback port."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml


@dataclass
class Mongod:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serve(
    command: list[str], tmp: Path, settings: dict[str, dict[str, Any]] | None = None
) -> Iterator[Mongod]:
    """Runs `command --config <conf>` (the wrapper) on 127.0.0.1; SIGTERM on
    exit. `settings` are merged into the conf's sections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf: dict[str, dict[str, Any]] = {
        "storage": {"dbPath": str(tmp / "db")},
        "systemLog": {"destination": "file", "path": str(tmp / "mongod.log")},
        "net": {"port": port, "bindIp": "127.0.0.1"},
    }
    for section, values in (settings or {}).items():
        conf.setdefault(section, {}).update(values)
    (tmp / "mongod.conf").write_text(yaml.safe_dump(conf))
    conf_path = tmp / "mongod.conf"
    proc = subprocess.Popen([*command, "--config", str(conf_path)])
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
