"""Look at MRQ's jobs in MongoDB, with this host's /etc/mrq/mrq-config.py.

Run with the MRQ venv's Python, as the service user. Prints JSON; exit 1 on timeout.
  mrq_probe.py recent PATH REGEX [--count N] [--timeout S]   N successful jobs of PATH
                                                             queued after start, result ~ REGEX
  mrq_probe.py job ID STATUS [--result REGEX] [--timeout S]  wait for a job's status
  mrq_probe.py queue PATH N --queue Q --ids FILE   queue N jobs (params 0..N-1), ids to FILE
  mrq_probe.py batch FILE STATUS [--timeout S]     wait until every job of FILE has STATUS
                                                   (a missing job counts as "missing")
  mrq_probe.py direct - -                          MRQ as task code imports it (no entry point):
                                                   mrq.agent imports, a 6 s BLPOP returns empty
  mrq_probe.py raw QUEUE VALUE [--result REGEX]    put VALUE on the raw queue QUEUE; wait for its
                                                   job (stored once taken) to succeed
  mrq_probe.py stored QUEUE -                      how many jobs of the raw queue QUEUE MongoDB holds
`queue`, `raw` and `direct` rely on the venv's mrqlab-compat.pth for MRQ's fixes, as task code does.
"""

import argparse
import datetime
import json
import re
import runpy
import sys
import time

import pymongo

parser = argparse.ArgumentParser()
parser.add_argument("what", choices=["recent", "job", "queue", "batch", "direct", "raw", "stored"])
parser.add_argument("arg1")
parser.add_argument("arg2")
parser.add_argument("--result", default=None)
parser.add_argument("--count", type=int, default=1)
parser.add_argument("--timeout", type=float, default=60)
parser.add_argument("--since", type=float, default=None, help="epoch seconds; default: now")
parser.add_argument("--config", default="/etc/mrq/mrq-config.py")
parser.add_argument("--queue", default=None)
parser.add_argument("--ids", default=None)
args = parser.parse_args()

if args.what == "direct":
    from mrq.context import connections, setup_context

    setup_context(file_path=args.config, config_type="run", sources=("file",))
    import mrq.agent  # noqa: F401  (LuaLock)

    t0 = time.monotonic()
    popped = connections.redis.blpop(["mrqlab:probe:nothing"], 6)
    print(json.dumps({"ok": popped is None, "blpop_s": round(time.monotonic() - t0, 1)}))
    sys.exit(0 if popped is None else 1)

if args.what == "queue":
    from mrq.context import setup_context

    setup_context(file_path=args.config, config_type="run", sources=("file",))
    from mrq.job import queue_jobs

    queued = queue_jobs(args.arg1, [str(i) for i in range(int(args.arg2))], queue=args.queue)
    with open(args.ids, "w") as f:
        json.dump([str(i) for i in queued], f)
    print(json.dumps({"ok": True, "queued": len(queued)}))
    sys.exit(0)

if args.what == "raw":
    from mrq.context import setup_context

    setup_context(file_path=args.config, config_type="run", sources=("file",))
    from mrq.job import queue_raw_jobs

    queue_raw_jobs(args.arg1, [args.arg2])

uri = runpy.run_path(args.config)["MONGODB_JOBS"]
jobs = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000).get_default_database().mrq_jobs
deadline = time.time() + args.timeout


def show(doc):
    out = {k: doc.get(k) for k in ("path", "params", "queue", "raw_queue", "status", "result", "retry_count")}
    out["_id"] = str(doc["_id"])
    if doc.get("status") == "success" and doc.get("dateupdated") and doc.get("datequeued"):
        out["latency_s"] = round((doc["dateupdated"] - doc["datequeued"]).total_seconds(), 3)
    if isinstance(doc.get("dateexpires"), datetime.datetime) and doc.get("dateupdated"):
        out["expires_after_s"] = round((doc["dateexpires"] - doc["dateupdated"]).total_seconds(), 3)
    return out


while True:
    if args.what == "recent":
        start = args.since if args.since is not None else deadline - args.timeout
        since = datetime.datetime.utcfromtimestamp(start)
        found = [
            show(d)
            for d in jobs.find({"path": args.arg1, "status": "success", "datequeued": {"$gte": since}})
            if re.fullmatch(args.arg2, str(d.get("result")))
        ]
        if len(found) >= args.count:
            print(json.dumps({"ok": True, "jobs": found}))
            sys.exit(0)
    elif args.what == "stored":
        print(json.dumps({"ok": True, "stored": jobs.count_documents({"raw_queue": args.arg1})}))
        sys.exit(0)
    elif args.what == "raw":
        # The value is the params, or the one value of {param: value}.
        found = [
            show(d)
            for d in jobs.find({"raw_queue": args.arg1})
            if args.arg2 == d.get("params")
            or (isinstance(d.get("params"), dict) and list(d["params"].values()) == [args.arg2])
        ]
        done = [j for j in found if j["status"] == "success"]
        if done:
            ok = args.result is None or re.fullmatch(args.result, str(done[0]["result"]))
            print(json.dumps({"ok": bool(ok), "job": done[0]}))
            sys.exit(0 if ok else 1)
    elif args.what == "batch":
        from bson import ObjectId

        with open(args.arg1) as f:
            ids = [ObjectId(i) for i in json.load(f)]
        seen = {d["_id"]: d.get("status") for d in jobs.find({"_id": {"$in": ids}}, {"status": 1})}
        counts = {}
        for i in ids:
            counts[seen.get(i, "missing")] = counts.get(seen.get(i, "missing"), 0) + 1
        found = {"count": len(ids), "statuses": counts}
        if counts.get(args.arg2) == len(ids):
            print(json.dumps({"ok": True, **found}))
            sys.exit(0)
    else:
        from bson import ObjectId

        doc = jobs.find_one({"_id": ObjectId(args.arg1)})
        if doc and doc.get("status") == args.arg2:
            ok = args.result is None or re.fullmatch(args.result, str(doc.get("result")))
            print(json.dumps({"ok": bool(ok), "job": show(doc)}))
            sys.exit(0 if ok else 1)
        found = [show(doc)] if doc else []
    if time.time() > deadline:
        print(json.dumps({"ok": False, "seen": found}))
        sys.exit(1)
    time.sleep(0.5)
