import random
import threading

from mrqlab.scheduler import MAINTENANCE_TASKS, Plan, Scheduler


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
        self.tasks: list[str] = []
        self.now = 0.0

    def queue_job(self, path: str, params: int, queue: str) -> str:
        self.queued.append((path, params, queue))
        return f"id{len(self.queued)}"

    def run_task(self, path: str, params: dict) -> dict:
        self.tasks.append(path)
        if path.endswith("RequeueRetryJobs"):
            raise RuntimeError("mongo away")
        return {}


def test_maintenance_runs_every_maintenance_interval_and_survives_errors() -> None:
    rec = Recorder()
    sched = Scheduler(
        Plan(interval=20, maintenance_interval=60), rec.queue_job, rec.run_task, clock=lambda: rec.now
    )
    for step in range(6):  # t = 0, 20, ... 100 s
        rec.now = step * 20.0
        sched.step()
    assert len(rec.queued) == 12
    # at t=0 and t=60: every maintenance task, even after one failed
    assert rec.tasks == [path for path, _ in MAINTENANCE_TASKS] * 2


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
