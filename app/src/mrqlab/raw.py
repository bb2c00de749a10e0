"""Raw queues (MRQ's RAW_QUEUES) from plain settings, and `--processes auto`.

A raw queue keeps only a string per job in Redis; a worker turns it into a job
with the queue's job factory when it takes it. mrq-config.py (roles/mrq) builds
each entry with `raw_queue()`, so the inventory never holds Python code.
"""

from __future__ import annotations

import os
from typing import Any, Callable

# MRQ 0.9.10 reads a queue's kind from its name's suffix (Queue.get_queue_type).
SUFFIXES = ("_timed_set", "_sorted_set", "_set", "_raw")
# MRQ's statuses_no_storage that skips MongoDB unless a job fails or is retried.
NO_STORAGE = ("started", "success")


def raw_queue(task: str, *, retry_queue: str, param: str = "", store_jobs: bool = True) -> dict[str, Any]:
    """MRQ's settings of one raw queue: each raw value runs `task` with params the
    value itself (param "") or {param: value}. A job that fails or is retried goes
    to the regular queue `retry_queue`. store_jobs=False: started and successful
    jobs are never written to MongoDB (fastest; no result, no dashboard entry)."""

    def job_factory(rawparam: Any) -> dict[str, Any]:
        return {"path": task, "params": {param: rawparam} if param else rawparam}

    settings: dict[str, Any] = {"job_factory": job_factory, "retry_queue": retry_queue}
    if not store_jobs:
        settings["statuses_no_storage"] = NO_STORAGE
    return settings


def resolve_processes(argv: list[str], cpus: Callable[[], int] | None = None) -> list[str]:
    """`--processes auto` becomes one worker process per CPU this process may run on
    (its affinity: a unit's CPUAffinity= or a container's cpuset counts). On one
    CPU that is MRQ's 0: the worker itself, without a supervisor process."""

    def auto() -> str:
        n = (cpus or (lambda: len(os.sched_getaffinity(0))))()
        return str(n if n > 1 else 0)

    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--processes" and i + 1 < len(out) and out[i + 1] == "auto":
            out[i + 1] = auto()
        elif arg == "--processes=auto":
            out[i] = f"--processes={auto()}"
    return out
