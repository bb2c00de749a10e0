"""Stop an MRQ worker without stranding a job (the worker units' ExecStop).

1. SIGINT: MRQ stops taking jobs and lets the running ones finish.
2. After `timeout` seconds, if it still runs, a second SIGINT: MRQ interrupts
   the running jobs, which save the status `interrupt` (the scheduler requeues
   them).
3. Then wait up to `grace` seconds for that save and the exit, and only then
   return: systemd signals whatever is left when ExecStop returns, and a third
   signal would abort the greenlets while they are still saving `interrupt`,
   leaving their jobs `started`.

A worker that is still running after that is SIGKILLed by systemd
(TimeoutStopSec); the scheduler then requeues its jobs as a dead worker's.

  mrqlab-stop PID --timeout SECONDS [--grace SECONDS]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from pathlib import Path
from typing import Callable

log = logging.getLogger("mrqlab.stop")

GRACE = 30.0


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for its parent."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:  # gone between the two looks
        return False
    except (OSError, IndexError):  # it exists, but its state cannot be read: alive
        return True


def wait_exit(
    pid: int, seconds: float, is_alive: Callable[[int], bool], sleep: Callable[[float], None]
) -> bool:
    """True once `pid` has exited, False if it still runs after `seconds`."""
    deadline = time.monotonic() + seconds
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        sleep(0.1)
    return True


def stop(
    pid: int,
    timeout: float,
    grace: float = GRACE,
    kill: Callable[[int, int], None] = os.kill,
    is_alive: Callable[[int], bool] = alive,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Returns what happened: "finished", "interrupted", "still running" or "not running"."""
    # Each SIGINT, then how long to wait for the exit, and what an exit then means.
    phases = ((timeout, "finished"), (grace, "interrupted"))
    before = "not running"
    for seconds, outcome in phases:
        try:
            kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return before
        if wait_exit(pid, seconds, is_alive, sleep):
            return outcome
        log.warning("worker %s still running after %s s", pid, seconds)
        before = outcome
    return "still running"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pid", type=int)
    parser.add_argument("--timeout", type=float, required=True, help="seconds running jobs get to finish")
    parser.add_argument("--grace", type=float, default=GRACE, help="seconds to save `interrupt` and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    log.info("worker %s: %s", args.pid, stop(args.pid, args.timeout, args.grace))
