"""The controller's services on the bridge address: the apt-cacher-ng proxy
(apt, and CONNECT to PyPI for pip) and the read-only file server of CACHE/www.
Both are daemons tracked by pid files under STATE.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .common import SandboxError, cmdline, pid_alive, port_open, run
from .config import CACHE, GATEWAY, PROXY_PORT, STATE, WWW_PORT


def read_pid(path: Path, expect: str) -> int | None:
    """The live pid in `path` whose command line contains `expect` (pids in
    files that outlived a reboot may belong to anything by now)."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) and expect in cmdline(pid) else None


def stop_pidfile(pidfile: Path, expect: str) -> None:
    """SIGTERM the process a pid file names, SIGKILL after 5 s; remove the file."""
    pid = read_pid(pidfile, expect)
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- proxy


def proxy_dir() -> Path:
    return STATE / "proxy"


def proxy_running() -> bool:
    return read_pid(proxy_dir() / "pid", "apt-cacher-ng") is not None


def ensure_proxy() -> None:
    pdir = proxy_dir()
    if proxy_running():
        return
    if not shutil.which("apt-cacher-ng"):
        raise SandboxError("apt-cacher-ng is not installed (apt-get install apt-cacher-ng)")
    pdir.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "apt-cacher-ng"
    cache.mkdir(parents=True, exist_ok=True)
    # Own config: none of the stock Remap-* lines (they send deb.debian.org to
    # an unreachable mirror). CONNECT only to PyPI, for pip.
    (pdir / "acng.conf").write_text(
        f"CacheDir: {cache}\nLogDir: {pdir}\nSupportDir: /usr/lib/apt-cacher-ng\n"
        f"Port: {PROXY_PORT}\nBindAddress: {GATEWAY}\nPidFile: {pdir / 'pid'}\n"
        f"SocketPath: {pdir / 'socket'}\nForeGround: 0\nExThreshold: 4\n"
        "PassThroughPattern: ^(pypi\\.org|files\\.pythonhosted\\.org|repo\\.mongodb\\.org):443$\n"
        "VfilePatternEx: ^/pool/.*|.*/by-hash/.*\n"
    )
    run("apt-cacher-ng", "-c", str(pdir))
    for _ in range(50):
        if proxy_running() and port_open(str(GATEWAY), PROXY_PORT):
            return
        time.sleep(0.1)
    raise SandboxError(f"apt-cacher-ng did not start; see {pdir}")


def stop_proxy() -> None:
    stop_pidfile(proxy_dir() / "pid", "apt-cacher-ng")


# --------------------------------------------------------------------------- file server


def www_dir() -> Path:
    return CACHE / "www"


def www_running() -> bool:
    return read_pid(STATE / "www.pid", "http.server") is not None


def ensure_www() -> None:
    """Serve CACHE/www to the hosts (read-only, bridge address only)."""
    pidfile = STATE / "www.pid"
    if www_running():
        return
    www_dir().mkdir(parents=True, exist_ok=True)
    with open(STATE / "www.log", "a") as logf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(WWW_PORT),
                "--bind",
                str(GATEWAY),
                "--directory",
                str(www_dir()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile.write_text(f"{proc.pid}\n")
    for _ in range(50):
        if port_open(str(GATEWAY), WWW_PORT):
            return
        time.sleep(0.1)
    raise SandboxError(f"file server did not start; see {STATE / 'www.log'}")


def stop_www() -> None:
    stop_pidfile(STATE / "www.pid", "http.server")
