"""Shared fixtures: a real redis-server on loopback; commands run with a socket passed as systemd does."""

from __future__ import annotations

import hashlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The repository's tests/ holds the redis-server helper shared with the collection's tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from redis_server import acl_rules, free_port, running

__all__ = ["MRQ_ACL", "MRQ_PASSWORD", "MRQ_USER", "PASSWORD", "free_port", "socket_activated"]

PASSWORD = "p@ss w:rd/%#?x"
# An ACL user with the rules roles/redis gives MRQ (redis_mrq_acl's default).
MRQ_USER, MRQ_PASSWORD = "mrq", "mrq p@ss w:rd/%#?x"
MRQ_ACL = "~* &* +@all -@admin -@dangerous +keys +info -acl"


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real redis-server on loopback with a password full of URI specials, and
    MRQ's ACL user."""
    workdir = tmp_path_factory.mktemp("redis")
    acl = f"user {MRQ_USER} on #{hashlib.sha256(MRQ_PASSWORD.encode()).hexdigest()} {acl_rules(MRQ_ACL)}"
    with running(f'requirepass "{PASSWORD}"\n{acl}\n', workdir) as port:
        yield port


# Runs a command as systemd does with socket activation: the listening socket as
# file descriptor 3, LISTEN_FDS=1 and LISTEN_PID = the command's own pid (the
# wrapper sets it, then execs the command, which keeps the pid).
ACTIVATE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3);"
    " os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()));"
    " os.execv(sys.argv[2], sys.argv[2:])"
)


def socket_activated(listener: socket.socket, argv: list[str]) -> dict[str, Any]:
    """Popen arguments that run `argv` with `listener` passed as systemd would."""
    fd = listener.fileno()
    return {"args": [sys.executable, "-c", ACTIVATE, str(fd), *argv], "pass_fds": (fd,)}
