"""Shared fixtures: a real redis-server on loopback."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

PASSWORD = "p@ss w:rd/%#?x"
# An ACL user with the rules roles/redis gives MRQ (redis_mrq_acl's default).
MRQ_USER, MRQ_PASSWORD = "mrq", "mrq p@ss w:rd/%#?x"
MRQ_ACL = "~* &* +@all -@admin -@dangerous +keys +info -acl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real redis-server on loopback with a password full of URI specials, and
    MRQ's ACL user."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    conf = workdir / "redis.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\nrequirepass "{PASSWORD}"\nsave ""\nappendonly no\ndir {workdir}\n'
        f"user {MRQ_USER} on #{hashlib.sha256(MRQ_PASSWORD.encode()).hexdigest()} {MRQ_ACL}\n"
    )
    proc = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)
