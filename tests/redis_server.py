"""A throw-away redis-server on loopback, for the unit tests of the app and of
the mrq_lab.cluster collection (both put this directory on sys.path)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def version() -> tuple[int, int]:
    """(major, minor) of the redis-server on PATH."""
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True).stdout
    field = next(f for f in out.split() if f.startswith("v="))
    major, minor = field[2:].split(".")[:2]
    return int(major), int(minor)


def acl_rules(rules: str) -> str:
    """ACL `rules` as this redis-server takes them: 6.0 has no channel rules (&...)."""
    return rules if version() >= (6, 2) else " ".join(r for r in rules.split() if not r.startswith("&"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(config: str, workdir: Path, tls: bool = False) -> Iterator[int]:
    """Start redis-server with `config` (redis.conf lines) added to loopback-only,
    no-persistence settings; yield its port; stop it. With `tls`, the port is
    TLS only (`config` then names the certificate files)."""
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    conf = workdir / "redis.conf"
    ports = f"port 0\ntls-port {port}" if tls else f"port {port}"
    conf.write_text(f'{ports}\nbind 127.0.0.1\nsave ""\nappendonly no\ndir {workdir}\n{config}')
    proc = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
