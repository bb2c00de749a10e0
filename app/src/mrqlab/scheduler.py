"""The scheduler: every `interval` seconds, one job on queue task1 and one on task2,
each with a random integer 1000-9999, through MRQ's Python API; MRQ's indexes at
start (MRQ creates none by itself); and the maintenance that keeps jobs moving:

- every RECOVERY_INTERVAL seconds, the jobs of dead workers are requeued
  (mrqlab.recovery, within `requeue_within` seconds of the death) and so are the
  jobs a stopping worker interrupted;
- every `maintenance_interval` seconds, MRQ's retry and started-job cleaners,
  in a thread of their own so that they never delay the recovery.

Exactly one scheduler works at a time: each holds a lock in Redis while it
works, renewed at every tick; a second copy (a host moved between groups, a
manual start) waits and queues nothing. Stops cleanly on SIGTERM, releasing the
lock.

Retries are configured per task in mrq-config.py (TASKS): in MRQ 0.9.10 the
worker, not the queueing side, applies max_retries.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from mrqlab.recovery import CHECK_INTERVAL as RECOVERY_INTERVAL

log = logging.getLogger("mrqlab.scheduler")

LOCK_KEY = "mrqlab:scheduler:lock"
LOCK_TTL = 60  # seconds; renewed every tick (at most RECOVERY_INTERVAL apart)

RECOVERY_TASKS: tuple[str, ...] = (
    "mrqlab.recovery.RequeueDeadWorkerJobs",
    "mrq.basetasks.cleaning.RequeueInterruptedJobs",
)
MAINTENANCE_TASKS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mrq.basetasks.cleaning.RequeueRetryJobs", {}),
    ("mrq.basetasks.cleaning.RequeueStartedJobs", {"timeout": 300}),
)


@dataclass
class Plan:
    queues: tuple[str, ...] = ("task1", "task2")
    interval: float = 20.0
    maintenance_interval: float = 60.0
    requeue_within: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def jobs(self) -> list[tuple[str, int, str]]:
        """(task path, params, queue) for one round."""
        return [(f"tasks_push.{q}", self.rng.randint(1000, 9999), q) for q in self.queues]

    @property
    def tick(self) -> float:
        return min(self.interval, self.maintenance_interval, RECOVERY_INTERVAL)


class Lock(Protocol):
    def hold(self) -> bool: ...

    def release(self) -> None: ...


class RedisLock:
    """A lock in Redis that its holder renews: SET NX with a TTL, checked by token."""

    def __init__(self, redis: Any, key: str = LOCK_KEY, ttl: int = LOCK_TTL) -> None:
        self.lock = redis.lock(key, timeout=ttl, blocking=False, thread_local=False)

    def hold(self) -> bool:
        """Take the lock, or renew it if this scheduler holds it; False if another does."""
        from redis.exceptions import LockError

        if self.lock.owned():
            with contextlib.suppress(LockError):  # expired just now: take it again below
                return bool(self.lock.reacquire())
        return bool(self.lock.acquire(blocking=False))

    def release(self) -> None:
        if self.lock.owned():
            self.lock.release()


class OneAtATime:
    """Runs work in a thread of its own, one at a time: the maintenance (scans
    of mrq_jobs, slow on a big collection) never delays the recovery's ticks."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None

    def __call__(self, work: Callable[[], None]) -> None:
        if self.thread is not None and self.thread.is_alive():
            log.warning("the last maintenance is still running: this round is skipped")
            return
        self.thread = threading.Thread(target=work, name="maintenance", daemon=True)
        self.thread.start()


class Scheduler:
    def __init__(
        self,
        plan: Plan,
        queue_job: Callable[..., Any],
        run_task: Callable[[str, dict[str, Any]], Any],
        stop: threading.Event | None = None,
        clock: Callable[[], float] | None = None,
        lock: Lock | None = None,
        background: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.plan = plan
        self.queue_job = queue_job
        self.run_task = run_task
        self.stop = stop or threading.Event()
        self.clock = clock or time.monotonic
        self.lock = lock
        self.background = background or (lambda work: work())  # inline unless given a runner
        self.due = {"push": 0.0, "recovery": 0.0, "maintenance": 0.0}
        self.waiting = False

    def push_round(self) -> list[Any]:
        ids = []
        for path, params, queue in self.plan.jobs():
            job_id = self.queue_job(path, params, queue=queue)
            log.info("queued %s(%s) on %s: job %s", path, params, queue, job_id)
            ids.append(job_id)
        return ids

    def run_tasks(self, tasks: tuple[tuple[str, dict[str, Any]], ...]) -> None:
        for path, params in tasks:
            try:
                result = self.run_task(path, params)
                log.info("maintenance %s: %s", path.rsplit(".", 1)[-1], result)
            except Exception:  # one failing task must not stop the others
                log.exception("maintenance %s failed", path)

    def recovery(self) -> None:
        params: dict[str, Any] = {"bound": self.plan.requeue_within}
        self.run_tasks(tuple((path, params if path.startswith("mrqlab.") else {}) for path in RECOVERY_TASKS))

    def step(self) -> None:
        """One tick: whatever is due."""
        now = self.clock()
        work = (
            ("push", self.plan.interval, self.push_round),
            ("recovery", RECOVERY_INTERVAL, self.recovery),
            (
                "maintenance",
                self.plan.maintenance_interval,
                lambda: self.background(lambda: self.run_tasks(MAINTENANCE_TASKS)),
            ),
        )
        # Due within half a tick counts as due: a tick that wakes a few milliseconds
        # earlier than the last one must not skip the recovery for a whole interval.
        for name, interval, action in work:
            if now + self.plan.tick / 2 >= self.due[name]:
                action()
                self.due[name] = now + interval

    def holds_lock(self) -> bool:
        held = self.lock is None or self.lock.hold()
        if held == self.waiting:  # log changes only
            log.info("scheduler lock taken: working" if held else "another scheduler holds the lock: waiting")
            self.waiting = not held
        return held

    def run(self) -> None:
        next_tick = self.clock()
        try:
            while not self.stop.is_set():
                try:
                    if self.holds_lock():
                        self.step()
                except Exception:  # Redis or MongoDB away: log, retry next tick
                    log.exception("tick failed; retrying in %s s", self.plan.tick)
                # Ticks keep their pace however long the work took (the recovery bound counts on it).
                next_tick = max(next_tick + self.plan.tick, self.clock())
                self.stop.wait(max(0.0, next_tick - self.clock()))
        finally:
            if self.lock is not None:
                try:
                    self.lock.release()
                except Exception:  # Redis away: the lock expires by itself
                    log.exception("could not release the scheduler lock")
        log.info("scheduler stopped")


def ensure_logs_collection() -> None:
    """MRQ's processes keep job logs in a capped collection, mrq_logs, that the
    first of them creates. EnsureIndexes, run first on a new cluster, would
    create it uncapped, and every MRQ process after it would then try
    `convertToCapped` (a copy of the collection, missing from some servers).
    MRQ's own log handler creates it as MRQ expects."""
    from mrq.logger import MongoHandler
    from pymongo.errors import CollectionInvalid

    with contextlib.suppress(CollectionInvalid):  # created by a worker meanwhile
        MongoHandler()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Queue tasks_push.task1/task2 jobs on a schedule")
    parser.add_argument("--config", default="mrq-config.py", help="MRQ config file (connections)")
    parser.add_argument("--interval", type=float, default=20.0)
    parser.add_argument("--maintenance-interval", type=float, default=60.0)
    parser.add_argument(
        "--requeue-within", type=float, default=60.0, help="seconds: requeue a dead worker's jobs within this"
    )
    parser.add_argument("--queues", default="task1,task2")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from mrqlab import compat

    compat.apply()
    from mrq.context import connections, get_current_config, run_task, setup_context
    from mrq.job import queue_job

    from mrqlab.recovery import dead_after

    setup_context(file_path=args.config, config_type="run", sources=("file",))
    dead_after(args.requeue_within, float(get_current_config().get("report_interval") or 10))  # fail early
    ensure_logs_collection()
    run_task("mrq.basetasks.indexes.EnsureIndexes", {})
    log.info("MRQ indexes ensured")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    plan = Plan(
        queues=tuple(q for q in args.queues.split(",") if q),
        interval=args.interval,
        maintenance_interval=args.maintenance_interval,
        requeue_within=args.requeue_within,
    )
    lock = RedisLock(connections.redis)
    Scheduler(plan, queue_job, run_task, stop, lock=lock, background=OneAtATime()).run()
