"""What every part of the sandbox uses: its one error type, logging, running
commands, and probing processes and ports.

Helpers raise SandboxError; only cli.main() turns it into a message and exit 1.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SandboxError(Exception):
    """A failure the tool reports as `sandbox: error: <message>` (exit 1)."""


def log(msg: str) -> None:
    print(f"sandbox: {msg}", file=sys.stderr, flush=True)


def run(
    *cmd: str, check: bool = True, quiet: bool = False, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, capturing its output; a failure raises SandboxError if `check`,
    else is logged unless `quiet`."""
    res = subprocess.run(cmd, text=True, capture_output=True, input=input)
    if check and res.returncode != 0:
        raise SandboxError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    if not quiet and res.returncode != 0:
        log(f"ignored: {' '.join(cmd)}: {res.stderr.strip()}")
    return res


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive. The state follows the command name, which may hold spaces and ")".
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block: one
    sandbox command at a time changes what hosts share (bridge, proxy, address
    allocation, image builds), whichever test runs it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
