"""The scheduler: every `interval` seconds, one job on queue task1 and one on task2,
each with a random integer 1000-9999, through MRQ's Python API; plus MRQ's
maintenance tasks every `maintenance_interval` seconds and MRQ's indexes at
start (MRQ creates none by itself). Stops cleanly on SIGTERM.

Retries (3) are configured for tasks_push.task1/task2 in mrq-config.py (TASKS):
in MRQ 0.9.10 the worker, not the queueing side, applies max_retries.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("mrqlab.scheduler")

MAINTENANCE_TASKS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mrq.basetasks.cleaning.RequeueInterruptedJobs", {}),
    ("mrq.basetasks.cleaning.RequeueRetryJobs", {}),
    ("mrq.basetasks.cleaning.RequeueStartedJobs", {"timeout": 300}),
)


@dataclass
class Plan:
    queues: tuple[str, ...] = ("task1", "task2")
    interval: float = 20.0
    maintenance_interval: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def jobs(self) -> list[tuple[str, int, str]]:
        """(task path, params, queue) for one round."""
        return [(f"tasks_push.{q}", self.rng.randint(1000, 9999), q) for q in self.queues]


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        queue_job: Callable[..., Any],
        run_task: Callable[[str, dict[str, Any]], Any],
        stop: threading.Event | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.plan = plan
        self.queue_job = queue_job
        self.run_task = run_task
        self.stop = stop or threading.Event()
        self.clock = clock or time.monotonic
        self.next_maintenance = 0.0

    def push_round(self) -> list[Any]:
        ids = []
        for path, params, queue in self.plan.jobs():
            job_id = self.queue_job(path, params, queue=queue)
            log.info("queued %s(%s) on %s: job %s", path, params, queue, job_id)
            ids.append(job_id)
        return ids

    def maintenance(self) -> None:
        for path, params in MAINTENANCE_TASKS:
            try:
                result = self.run_task(path, params)
                log.info("maintenance %s: %s", path.rsplit(".", 1)[-1], result)
            except Exception:  # one failing task must not stop the schedule
                log.exception("maintenance %s failed", path)

    def step(self) -> None:
        self.push_round()
        if self.clock() >= self.next_maintenance:
            self.maintenance()
            self.next_maintenance = self.clock() + self.plan.maintenance_interval

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.step()
            except Exception:  # Redis or MongoDB away: log, retry next round
                log.exception("round failed; retrying in %s s", self.plan.interval)
            self.stop.wait(self.plan.interval)
        log.info("scheduler stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Queue tasks_push.task1/task2 jobs on a schedule")
    parser.add_argument("--config", default="mrq-config.py", help="MRQ config file (connections)")
    parser.add_argument("--interval", type=float, default=20.0)
    parser.add_argument("--maintenance-interval", type=float, default=60.0)
    parser.add_argument("--queues", default="task1,task2")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from mrqlab import compat

    compat.apply()
    from mrq.context import run_task, setup_context
    from mrq.job import queue_job

    setup_context(file_path=args.config, config_type="run", sources=("file",))
    run_task("mrq.basetasks.indexes.EnsureIndexes", {})
    log.info("MRQ indexes ensured")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    plan = Plan(
        queues=tuple(q for q in args.queues.split(",") if q),
        interval=args.interval,
        maintenance_interval=args.maintenance_interval,
    )
    Scheduler(plan, queue_job, run_task, stop).run()
