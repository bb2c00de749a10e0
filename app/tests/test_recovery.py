"""Dead-worker recovery: which started jobs are requeued, when, and when not."""

from __future__ import annotations

import datetime as dt

import pytest
from mrqlab import recovery
from mrqlab.recovery import RequeueDeadWorkerJobs, dead_after, plan_recovery, task_max_retries

NOW = dt.datetime(2026, 11, 28, 12, 0, 0)
SILENCE = 50.0


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def worker(wid: str, reported_ago: float, status: str = "wait", running: tuple = ()) -> dict:
    return {
        "_id": wid,
        "status": status,
        "datereported": ago(reported_ago),
        "jobs": [{"id": str(j)} for j in running],
    }


def job(
    jid: str, wid: str, started_ago: float = 120, path: str = "tasks_push.task1", retries: int = 0
) -> dict:
    return {"_id": jid, "worker": wid, "datestarted": ago(started_ago), "path": path, "retry_count": retries}


def plan(workers, jobs, max_retries=3):
    return plan_recovery(workers, jobs, NOW, SILENCE, lambda path: max_retries)


def test_a_slow_worker_that_still_reports_keeps_its_job():
    # a job running for an hour on a worker that reported 5 s ago, listing it
    assert plan([worker("w1", 5, running=["j1"])], [job("j1", "w1", started_ago=3600)]).requeue == []


def test_a_live_worker_that_no_longer_lists_its_job_left_it_orphaned():
    # e.g. the job's status could not be saved while MongoDB restarted
    assert plan([worker("w1", 5, running=["j2"])], [job("j1", "w1", started_ago=60)]).requeue == ["j1"]


def test_a_job_started_just_before_the_report_may_be_missing_from_it():
    # dequeued 3 s before a report that could not list it yet
    assert plan([worker("w1", 5)], [job("j1", "w1", started_ago=8)]).requeue == []


def test_a_silent_worker_is_dead_and_its_job_requeued():
    p = plan([worker("w1", SILENCE + 1)], [job("j1", "w1")])
    assert (p.requeue, p.give_up) == (["j1"], [])


def test_silence_just_under_the_limit_is_not_death():
    assert plan([worker("w1", SILENCE - 1, running=["j1"])], [job("j1", "w1")]).requeue == []


def test_a_worker_gone_from_the_collection_is_dead():
    # mrq_workers reports expire (TTL index): the job's worker is simply unknown
    assert plan([], [job("j1", "w-gone")]).requeue == ["j1"]


def test_a_stopped_worker_leaves_no_job_started():
    # e.g. a stop that ended before the job saved its `interrupt` status
    assert plan([worker("w1", 1, status="stop")], [job("j1", "w1")]).requeue == ["j1"]


def test_a_job_just_started_waits_for_its_worker_first_report():
    assert plan([], [job("j1", "w-new", started_ago=SILENCE - 5)]).requeue == []


def test_worker_ids_compare_as_text():
    from bson import ObjectId

    wid, jid = ObjectId(), ObjectId()
    assert plan([worker(wid, 1, running=[str(jid)])], [job(jid, str(wid))]).requeue == []
    assert plan([worker(str(wid), 1, running=[jid])], [job(str(jid), wid)]).requeue == []


def test_retries_are_counted_and_end_in_maxretries():
    jobs = [job("j0", "dead", retries=0), job("j2", "dead", retries=2), job("j3", "dead", retries=3)]
    p = plan([], jobs, max_retries=3)
    assert (p.requeue, p.give_up) == (["j0", "j2"], ["j3"])


def test_max_retries_per_task_from_the_config():
    lookup = task_max_retries(
        {"tasks": {"tasks_push.slow": {"max_retries": 0}}, "default_job_max_retries": 5}
    )
    assert (lookup("tasks_push.slow"), lookup("tasks_push.task1")) == (0, 5)
    p = plan_recovery([], [job("j1", "dead", path="tasks_push.slow")], NOW, SILENCE, lookup)
    assert p.give_up == ["j1"]


def test_dead_after_leaves_room_for_the_check_interval():
    assert dead_after(60, 10) == 60 - recovery.CHECK_INTERVAL - recovery.MARGIN == 45
    assert dead_after(45, 10) == 30
    with pytest.raises(ValueError, match="at least 3 report intervals"):
        dead_after(44, 10)


class Collection:
    def __init__(self, docs):
        self.docs = docs
        self.updates = []

    def find(self, query, projection=None):
        return [d for d in self.docs if all(d.get(k) == v for k, v in query.items())]

    def update_many(self, flt, update):
        self.updates.append((flt, update))


def test_the_task_requeues_and_gives_up_with_guarded_updates(monkeypatch):
    from mrq import context

    old = dt.datetime.utcnow() - dt.timedelta(seconds=300)
    jobs = Collection(
        [
            {
                "_id": "j1",
                "status": "started",
                "worker": "dead",
                "datestarted": old,
                "path": "p",
                "retry_count": 0,
            },
            {
                "_id": "j2",
                "status": "started",
                "worker": "dead",
                "datestarted": old,
                "path": "p",
                "retry_count": 3,
            },
            {"_id": "j3", "status": "success", "worker": "dead", "datestarted": old, "path": "p"},
        ]
    )
    db = type("Db", (), {"mrq_jobs": jobs, "mrq_workers": Collection([])})()
    monkeypatch.setitem(context.connections.__dict__, "mongodb_jobs", db)
    monkeypatch.setattr(
        context, "get_current_config", lambda: {"report_interval": 10, "default_job_max_retries": 3}
    )
    assert RequeueDeadWorkerJobs().run({"bound": 60}) == {"started": 2, "requeued": 1, "maxretries": 1}
    (req_filter, req_update), (max_filter, max_update) = jobs.updates
    assert req_filter == {"_id": {"$in": ["j1"]}, "status": "started"}  # never touches a finished job
    assert req_update["$set"]["status"] == "queued" and req_update["$inc"] == {"retry_count": 1}
    assert max_filter == {"_id": {"$in": ["j2"]}, "status": "started"}
    assert max_update["$set"]["status"] == "maxretries"
