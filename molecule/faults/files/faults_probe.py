"""TEST-ONLY probe of the `faults` scenario: queues a batch of jobs and counts,
by job id, what became of them. Run on an MRQ host, as the service user, with
the MRQ venv's Python. Prints JSON.

  faults_probe.py queue BATCH --count N --long L [--seconds S] [--long-seconds LS]
  faults_probe.py feed BATCH --seconds S --every E --max-seconds T
                                                        queue a job every E s until the file
                                                        STATE/BATCH.stop exists (at most T s), then
                                                        add them to the batch
  faults_probe.py started BATCH --min K [--timeout T]    wait until K jobs started
  faults_probe.py wait BATCH --since EPOCH [--timeout T] [--taken-after EPOCH]
                                                        wait for the batch, then count (and the
                                                        jobs started after EPOCH by workers
                                                        started after EPOCH)
  faults_probe.py forget BATCH                            delete the batch's jobs (keeps the stand-in fast)
  faults_probe.py orphans BATCH                           its jobs left started by stopped/unknown workers
  faults_probe.py job ID                                  one job's status, retries, runs
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from bson import ObjectId
from mrq.context import connections, setup_context
from mrqlab import compat

STATE = Path("/var/lib/mrq-faults")  # made by the verify playbook, owned by mrq
RESULT = re.compile(r"work:(\d+):v(\d+)")


def batch_ids(batch: str) -> list[ObjectId]:
    return [ObjectId(i) for i in json.loads((STATE / f"{batch}.json").read_text())["ids"]]


def cmd_queue(args: argparse.Namespace) -> dict[str, Any]:
    from mrq.job import queue_jobs

    step = max(1, args.count // max(1, args.long))
    params = [
        {"n": n, "seconds": args.long_seconds if args.long and n % step == 0 else args.seconds}
        for n in range(args.count)
    ]
    ids = queue_jobs("tasks_faults.work", params, queue="faults")
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / f"{args.batch}.json").write_text(json.dumps({"ids": [str(i) for i in ids]}))
    return {
        "batch": args.batch,
        "jobs": len(ids),
        "long": sum(p["seconds"] == args.long_seconds for p in params),
    }


def cmd_feed(args: argparse.Namespace) -> dict[str, Any]:
    """Jobs in flight for as long as a fault lasts, however long that is on a loaded
    machine: one job every `every` seconds until the stop file appears."""
    from mrq.job import queue_jobs

    stop = STATE / f"{args.batch}.stop"
    stop.unlink(missing_ok=True)
    ids: list[Any] = []
    deadline = time.monotonic() + args.max_seconds
    while not stop.exists() and time.monotonic() < deadline:
        ids += queue_jobs(
            "tasks_faults.work", [{"n": 100000 + len(ids), "seconds": args.seconds}], queue="faults"
        )
        time.sleep(args.every)
    path = STATE / f"{args.batch}.json"
    batch = json.loads(path.read_text())
    path.write_text(json.dumps({"ids": batch["ids"] + [str(i) for i in ids]}))
    return {"batch": args.batch, "fed": len(ids), "stopped": stop.exists()}


def statuses(ids: list[ObjectId]) -> dict[ObjectId, dict[str, Any]]:
    jobs = connections.mongodb_jobs.mrq_jobs
    fields = {
        "status": 1,
        "result": 1,
        "retry_count": 1,
        "datequeued": 1,
        "datestarted": 1,
        "dateupdated": 1,
        "params": 1,
        "worker": 1,
    }
    return {d["_id"]: d for d in jobs.find({"_id": {"$in": ids}}, projection=fields)}


def cmd_started(args: argparse.Namespace) -> dict[str, Any]:
    ids, deadline = batch_ids(args.batch), time.time() + args.timeout
    while True:
        done = sum(d["status"] != "queued" for d in statuses(ids).values())
        if done >= args.min or time.time() > deadline:
            return {"started_or_done": done, "ok": done >= args.min}
        time.sleep(0.2)


def queued_again(doc: dict[str, Any]) -> bool:
    """Queued later than the job was made (its id's time, to the second): requeued,
    not a job fed after the fault began."""
    made = doc["_id"].generation_time.replace(tzinfo=None)
    return (doc["datequeued"] - made).total_seconds() > 2


def cmd_wait(args: argparse.Namespace) -> dict[str, Any]:
    ids, deadline = batch_ids(args.batch), time.time() + args.timeout
    while True:
        docs = statuses(ids)
        if all(d["status"] == "success" for d in docs.values()) and len(docs) == len(ids):
            break
        if time.time() > deadline:
            break
        time.sleep(1)
    since = dt.datetime.utcfromtimestamp(args.since)
    runs = {k.decode(): int(v) for k, v in connections.redis.hgetall("faults:runs").items()}
    success = [d for d in docs.values() if d["status"] == "success"]
    results = {d["_id"]: RESULT.fullmatch(str(d.get("result"))) for d in success}
    wrong = [str(i) for i, m in results.items() if not m or int(m[1]) != docs[i]["params"]["n"]]
    requeued_docs = [
        d for d in docs.values() if d.get("datequeued") and d["datequeued"] > since and queued_again(d)
    ]
    requeued = [d["datequeued"] for d in requeued_docs]

    def after(t: dt.datetime | None) -> float | None:
        return round((t - since).total_seconds(), 1) if t else None

    details = [
        {
            "started": after(d.get("datestarted")),
            "requeued": after(d["datequeued"]),
            "retries": d.get("retry_count", 0),
        }
        for d in sorted(requeued_docs, key=lambda d: d["datequeued"])[-3:]
    ]
    last = max((d["dateupdated"] for d in success), default=since)
    taken = 0
    if args.taken_after is not None:  # jobs started after it by workers started after it
        after_t = dt.datetime.utcfromtimestamp(args.taken_after)
        late = [str(d["worker"]) for d in success if d.get("datestarted") and d["datestarted"] > after_t]
        ids_any = list({*late, *(ObjectId(w) for w in late if ObjectId.is_valid(w))})
        reports = connections.mongodb_jobs.mrq_workers.find(
            {"_id": {"$in": ids_any}, "datestarted": {"$gt": after_t}}, {"_id": 1}
        )
        new = {str(r["_id"]) for r in reports}
        taken = sum(w in new for w in late)
    by_status: dict[str, int] = {}
    for d in docs.values():
        by_status[d["status"]] = by_status.get(d["status"], 0) + 1
    return {
        "jobs": len(ids),
        "success": len(success),
        "lost": len(ids) - len(docs),
        "stuck": sum(d["status"] in ("started", "queued", "interrupt", "retry") for d in docs.values()),
        "statuses": by_status,
        "ran_twice": sum(runs.get(str(i), 0) >= 2 for i in ids),
        "wrong_result": wrong[:5],
        "versions": sorted({m[2] for m in results.values() if m}),
        "recover_s": round(max(0.0, (last - since).total_seconds()), 1),
        "requeued": len(requeued),
        "last_requeue_s": round(max(((t - since).total_seconds() for t in requeued), default=0.0), 1),
        "last_requeues": details,
        "timed_out": time.time() > deadline,
        "taken_by_new_workers": taken,
    }


def cmd_forget(args: argparse.Namespace) -> dict[str, Any]:
    """The test stand-in slows down as mrq_jobs grows: each fault starts from the same size."""
    ids = batch_ids(args.batch)
    deleted = connections.mongodb_jobs.mrq_jobs.delete_many({"_id": {"$in": ids}}).deleted_count
    connections.redis.hdel("faults:runs", *[str(i) for i in ids])
    return {"deleted": deleted}


def cmd_orphans(args: argparse.Namespace) -> dict[str, Any]:
    """Jobs of the batch left `started` by a worker that stopped or is gone."""
    db = connections.mongodb_jobs
    live = {str(w["_id"]) for w in db.mrq_workers.find({"status": {"$ne": "stop"}}, projection={"_id": 1})}
    started = list(db.mrq_jobs.find({"_id": {"$in": batch_ids(args.batch)}, "status": "started"}))
    orphans = [j for j in started if str(j.get("worker")) not in live]
    return {
        "started": len(started),
        "orphans": len(orphans),
        "examples": [{"_id": str(j["_id"]), "worker": str(j.get("worker"))} for j in orphans[:3]],
    }


def cmd_job(args: argparse.Namespace) -> dict[str, Any]:
    doc = connections.mongodb_jobs.mrq_jobs.find_one({"_id": ObjectId(args.id)}) or {}
    runs = connections.redis.hget("faults:runs", args.id)
    return {"status": doc.get("status"), "retry_count": doc.get("retry_count", 0), "runs": int(runs or 0)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="/etc/mrq/mrq-config.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("queue")
    p.add_argument("batch")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--long", type=int, default=0)
    p.add_argument("--seconds", type=float, default=0.05)
    p.add_argument("--long-seconds", type=float, default=8)
    p = sub.add_parser("feed")
    p.add_argument("batch")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--every", type=float, required=True)
    p.add_argument("--max-seconds", type=float, required=True)
    p = sub.add_parser("started")
    p.add_argument("batch")
    p.add_argument("--min", type=int, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("wait")
    p.add_argument("batch")
    p.add_argument("--since", type=float, required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--taken-after", type=float, default=None)
    for name in ("forget", "orphans"):
        sub.add_parser(name).add_argument("batch")
    p = sub.add_parser("job")
    p.add_argument("id")
    args = parser.parse_args()
    compat.apply()
    setup_context(file_path=args.config, config_type="run", sources=("file",))
    result = globals()[f"cmd_{args.cmd}"](args)
    print(json.dumps(result))
    sys.exit(0)


if __name__ == "__main__":
    main()
