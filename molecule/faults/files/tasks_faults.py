"""TEST-ONLY tasks of the `faults` scenario, deployed into a copy of the app by
its prepare step (never part of the app's defaults).

Every run of `work` counts itself in Redis (hash faults:runs, by job id), so the
suite can tell jobs that ran twice (at-least-once after a kill) from the rest.
VERSION changes between deploys (the rolling-deploy fault).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from mrq.context import connections, get_current_job
from mrq.task import Task

VERSION = 1


def count_run() -> None:
    """One more run of this job, in Redis; retried through a Redis restart (the
    count is the suite's instrument, not the work: it must not fail the job)."""
    for _ in range(100):
        try:
            connections.redis.hincrby("faults:runs", str(get_current_job().id), 1)
            return
        except Exception:
            time.sleep(0.3)


class work(Task):
    """params: {"n": int, "seconds": float}; returns "work:<n>:v<VERSION>"."""

    def run(self, params: dict[str, Any]) -> str:
        count_run()
        time.sleep(float(params.get("seconds", 0)))
        return f"work:{params['n']}:v{VERSION}"


class suicide(Task):
    """Kills its own worker, every time: a job that must end `maxretries`."""

    def run(self, params: dict[str, Any]) -> str:
        count_run()
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
        return "unreachable"
