import random
import threading
import time
from unittest.mock import patch

import pytest
from mrqlab.scheduler import (
    MAINTENANCE_TASKS,
    RECOVERY_INTERVAL,
    RECOVERY_TASKS,
    OneAtATime,
    Plan,
    RedisLock,
    Scheduler,
)


def test_a_round_queues_one_job_per_queue_with_4_digits() -> None:
    plan = Plan(rng=random.Random(7))
    for _ in range(200):
        jobs = plan.jobs()
        assert [(path, queue) for path, _, queue in jobs] == [
            ("tasks_push.task1", "task1"),
            ("tasks_push.task2", "task2"),
        ]
        assert all(1000 <= params <= 9999 for _, params, _ in jobs)


class Recorder:
    def __init__(self) -> None:
        self.queued: list[tuple[str, int, str]] = []
        self.tasks: list[tuple[float, str]] = []
        self.now = 0.0

    def queue_job(self, path: str, params: int, queue: str) -> str:
        self.queued.append((path, params, queue))
        return f"id{len(self.queued)}"

    def run_task(self, path: str, params: dict) -> dict:
        self.tasks.append((self.now, path))
        if path.endswith("RequeueRetryJobs"):
            raise RuntimeError("mongo away")
        if path.endswith("RequeueDeadWorkerJobs"):
            assert params == {"bound": 60.0}
        return {}

    def ran(self, paths: tuple[str, ...]) -> list[tuple[float, str]]:
        return [(t, p) for t, p in self.tasks if p in paths]


def run_for(sched: Scheduler, rec: Recorder, seconds: float, tick: float) -> None:
    rec.now = 0.0
    while rec.now <= seconds:
        sched.step()
        rec.now += tick


def test_jobs_every_interval_recovery_every_10_s_maintenance_every_minute() -> None:
    rec = Recorder()
    sched = Scheduler(
        Plan(interval=20, maintenance_interval=60), rec.queue_job, rec.run_task, clock=lambda: rec.now
    )
    run_for(sched, rec, 100, tick=RECOVERY_INTERVAL)  # t = 0, 10, ... 100 s
    assert len(rec.queued) == 12  # t = 0, 20, ... 100: two jobs each
    recovery_times = sorted({t for t, _ in rec.ran(RECOVERY_TASKS)})
    assert recovery_times == [float(t) for t in range(0, 101, 10)]
    # at t=0 and t=60: every maintenance task, even after one failed
    maintenance = [path for path, _ in MAINTENANCE_TASKS]
    assert rec.ran(tuple(maintenance)) == [(0.0, p) for p in maintenance] + [(60.0, p) for p in maintenance]


def test_ticks_that_wake_a_little_early_or_late_skip_nothing() -> None:
    """The recovery's bound counts on a check at every tick, whatever the jitter."""
    rec = Recorder()
    sched = Scheduler(
        Plan(interval=20, maintenance_interval=60), rec.queue_job, rec.run_task, clock=lambda: rec.now
    )
    jitter = [0.004, 0.001, 0.003, 0.0, 0.002, 0.004, 0.001, 0.003, 0.002, 0.0, 0.001]
    for n, late in enumerate(jitter):
        rec.now = n * RECOVERY_INTERVAL + late
        sched.step()
    recovery_ticks = sorted({round(t) for t, _ in rec.ran(RECOVERY_TASKS)})
    assert recovery_ticks == [int(n * RECOVERY_INTERVAL) for n in range(len(jitter))]
    assert len(rec.queued) == 12  # t = 0, 20, ... 100: two jobs each
    assert sorted({round(t) for t, _ in rec.ran((MAINTENANCE_TASKS[0][0],))}) == [0, 60]


def test_a_slow_maintenance_does_not_delay_the_recovery_ticks() -> None:
    stop = threading.Event()
    recoveries: list[float] = []

    def run_task(path: str, params: dict) -> dict:
        if path in RECOVERY_TASKS:
            recoveries.append(time.monotonic())
        elif path == MAINTENANCE_TASKS[0][0]:
            stop.wait(0.5)  # a scan of a big mrq_jobs
        return {}

    plan = Plan(interval=10, maintenance_interval=0.1)
    with patch("mrqlab.scheduler.RECOVERY_INTERVAL", 0.05):
        sched = Scheduler(plan, Recorder().queue_job, run_task, stop, background=OneAtATime())
        thread = threading.Thread(target=sched.run, daemon=True)
        thread.start()
        stop.wait(1.0)
        stop.set()
        thread.join(5)
    gaps = [b - a for a, b in zip(recoveries[::2], recoveries[2::2])]
    assert len(recoveries) >= 20 and max(gaps) < 0.3, gaps


def test_run_stops_when_asked() -> None:
    rec = Recorder()
    stop = threading.Event()

    def queue_and_stop(path: str, params: int, queue: str) -> str:
        stop.set()
        return rec.queue_job(path, params, queue)

    thread = threading.Thread(
        target=Scheduler(Plan(interval=30), queue_and_stop, rec.run_task, stop).run, daemon=True
    )
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert len(rec.queued) == 2


class NotMine:
    def hold(self) -> bool:
        return False

    def release(self) -> None:
        pass


def test_without_the_lock_nothing_is_queued() -> None:
    rec = Recorder()
    stop = threading.Event()
    sched = Scheduler(
        Plan(interval=0.05, maintenance_interval=0.05), rec.queue_job, rec.run_task, stop, lock=NotMine()
    )
    thread = threading.Thread(target=sched.run, daemon=True)
    thread.start()
    stop.wait(0.3)
    stop.set()
    thread.join(5)
    assert rec.queued == [] and rec.tasks == []


@pytest.fixture
def redis_client(redis_port: int):
    import redis
    from conftest import PASSWORD

    client = redis.Redis(port=redis_port, password=PASSWORD)
    client.delete("test:scheduler:lock")
    return client


def test_two_schedulers_one_lock_then_takeover(redis_client) -> None:
    """Two copies: only one queues; when it stops (releasing the lock) the other takes over."""
    first = RedisLock(redis_client, key="test:scheduler:lock", ttl=5)
    second = RedisLock(redis_client, key="test:scheduler:lock", ttl=5)
    assert first.hold() and not second.hold()
    assert first.hold()  # renewed by its holder
    assert not second.hold()
    first.release()
    assert second.hold() and not first.hold()


def test_a_lock_left_by_a_killed_scheduler_expires(redis_client) -> None:
    killed = RedisLock(redis_client, key="test:scheduler:lock", ttl=1)
    assert killed.hold()  # and never released: SIGKILL
    other = RedisLock(redis_client, key="test:scheduler:lock", ttl=1)
    assert not other.hold()
    import time

    time.sleep(1.2)
    assert other.hold()


def test_two_running_schedulers_queue_each_round_once(redis_client) -> None:
    recs = [Recorder(), Recorder()]
    stop = threading.Event()
    threads = []
    for rec in recs:
        lock = RedisLock(redis_client, key="test:scheduler:lock", ttl=5)
        sched = Scheduler(
            Plan(interval=0.1, maintenance_interval=10), rec.queue_job, rec.run_task, stop, lock=lock
        )
        threads.append(threading.Thread(target=sched.run, daemon=True))
    for t in threads:
        t.start()
    stop.wait(1.0)
    stop.set()
    for t in threads:
        t.join(5)
    counts = sorted(len(rec.queued) for rec in recs)
    assert counts[0] == 0 and counts[1] >= 10
