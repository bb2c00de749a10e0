"""Requeue the jobs of dead workers within a bound, whatever the task's timeout.

MRQ 0.9.10 requeues a `started` job only after the task's timeout (an hour by
default) has passed: a worker killed by SIGKILL, the OOM killer, a reboot or a
power loss leaves its jobs `started` that long. Here a worker is alive while it
reports: every worker writes its report (`mrq_workers.datereported`) every
REPORT_INTERVAL seconds, listing the jobs it runs. A `started` job is an orphan
when its worker has not reported for `dead_after` seconds (or stopped, or is
unknown), or when its live worker's reports no longer list it (its status could
not be saved, e.g. during a MongoDB restart). An orphan is requeued with
`retry_count` + 1, or marked `maxretries` once the task's max_retries is used
up, so a job that kills its worker every time does not loop forever.

`RequeueDeadWorkerJobs` is the MRQ task the scheduler runs every few seconds;
`plan_recovery` is its decision, a pure function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from mrq.task import Task

# A dead worker's job is requeued within `bound` seconds of the death: its
# last report is no later than the death, the check runs every CHECK_INTERVAL
# seconds and MARGIN covers the check's own duration. What remains of the
# bound is the silence after which a worker counts as dead; it must stay well
# above the report interval, so that a slow report never makes a live worker
# look dead.
CHECK_INTERVAL = 10.0
MARGIN = 5.0
MIN_SILENCE_REPORTS = 3


def dead_after(bound: float, report_interval: float) -> float:
    """Seconds of silence after which a worker is dead, for a requeue `bound`."""
    silence = bound - CHECK_INTERVAL - MARGIN
    if silence < MIN_SILENCE_REPORTS * report_interval:
        raise ValueError(
            f"a requeue bound of {bound:g} s leaves {silence:g} s to tell a dead worker from a slow "
            f"one; it needs at least {MIN_SILENCE_REPORTS} report intervals "
            f"({MIN_SILENCE_REPORTS * report_interval:g} s) + {CHECK_INTERVAL + MARGIN:g} s"
        )
    return silence


@dataclass
class Plan:
    requeue: list[Any] = field(default_factory=list)  # job ids, retried
    give_up: list[Any] = field(default_factory=list)  # job ids, max retries used up


def alive_workers(
    workers: Iterable[Mapping[str, Any]], now: dt.datetime, silence: float
) -> dict[str, Mapping[str, Any]]:
    """The workers that reported within `silence` seconds and did not stop, by id."""
    since = now - dt.timedelta(seconds=silence)
    return {
        str(w["_id"]): w
        for w in workers
        if w.get("status") != "stop" and w.get("datereported") and w["datereported"] >= since
    }


def runs_it(worker: Mapping[str, Any], job: Mapping[str, Any], report_interval: float) -> bool:
    """Whether a live worker still runs `job`: its last report lists the job, or the
    job started too shortly before that report to be listed with certainty."""
    if str(job["_id"]) in {str(j.get("id")) for j in worker.get("jobs") or []}:
        return True
    listed_by = job.get("datestarted") or worker["datereported"]
    return listed_by >= worker["datereported"] - dt.timedelta(seconds=report_interval)


def plan_recovery(
    workers: Iterable[Mapping[str, Any]],
    started_jobs: Iterable[Mapping[str, Any]],
    now: dt.datetime,
    silence: float,
    max_retries: Callable[[str], int],
    report_interval: float = 10.0,
) -> Plan:
    """Which `started` jobs to requeue and which to give up on.

    A job is left alone while its live worker runs it, and for `silence` seconds
    after it started when its worker is unknown (a new worker's first report
    may still be on its way).
    """
    alive = alive_workers(workers, now, silence)
    grace = now - dt.timedelta(seconds=silence)
    plan = Plan()
    for job in started_jobs:
        worker = alive.get(str(job.get("worker")))
        if worker is not None:
            if runs_it(worker, job, report_interval):
                continue
        elif (job.get("datestarted") or now) > grace:
            continue
        if int(job.get("retry_count") or 0) >= max_retries(str(job.get("path"))):
            plan.give_up.append(job["_id"])
        else:
            plan.requeue.append(job["_id"])
    return plan


def task_max_retries(config: Mapping[str, Any]) -> Callable[[str], int]:
    """max_retries of a task path: TASKS in mrq-config.py, else DEFAULT_JOB_MAX_RETRIES."""
    tasks = config.get("tasks") or {}
    default = int(config.get("default_job_max_retries") or 3)

    def lookup(path: str) -> int:
        return int((tasks.get(path) or {}).get("max_retries", default))

    return lookup


class RequeueDeadWorkerJobs(Task):
    """params: {"bound": seconds} (default 60). Returns the counts it acted on."""

    max_concurrency = 1

    def run(self, params: Mapping[str, Any]) -> dict[str, int]:
        from mrq.context import connections, get_current_config, log

        config = get_current_config()
        report_interval = float(config.get("report_interval") or 10)
        silence = dead_after(float(params.get("bound", 60)), report_interval)
        db = connections.mongodb_jobs
        now = dt.datetime.utcnow()
        started = list(
            db.mrq_jobs.find(
                {"status": "started"},
                projection={"_id": 1, "worker": 1, "datestarted": 1, "path": 1, "retry_count": 1},
            )
        )
        if not started:
            return {"started": 0, "requeued": 0, "maxretries": 0}
        workers = db.mrq_workers.find({}, projection={"_id": 1, "status": 1, "datereported": 1, "jobs.id": 1})
        plan = plan_recovery(workers, started, now, silence, task_max_retries(config), report_interval)
        # Each update matches only jobs still `started`: one that finished meanwhile stays as it is.
        if plan.requeue:
            db.mrq_jobs.update_many(
                {"_id": {"$in": plan.requeue}, "status": "started"},
                {
                    "$set": {"status": "queued", "datequeued": now, "dateupdated": now},
                    "$inc": {"retry_count": 1},
                },
            )
        if plan.give_up:
            db.mrq_jobs.update_many(
                {"_id": {"$in": plan.give_up}, "status": "started"},
                {
                    "$set": {
                        "status": "maxretries",
                        "dateupdated": now,
                        "exceptiontype": "WorkerDied",
                        "traceback": "Its worker died while running it, more times than max_retries.",
                    }
                },
            )
        for job_id in plan.requeue:
            log.warning("requeued job %s: its worker died", job_id)
        for job_id in plan.give_up:
            log.error("job %s: its worker died again; max_retries used up, status maxretries", job_id)
        return {"started": len(started), "requeued": len(plan.requeue), "maxretries": len(plan.give_up)}
