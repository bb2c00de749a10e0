#!/usr/bin/env python3
"""bson_cost: what pymongo's C extension saves per MRQ job, in the interpreter that runs it.

Encodes and decodes the documents a regular-queue job costs MRQ in MongoDB (the
job as queued, its status updates, the job as a worker reads it back) with the
pymongo this Python imports, and prints microseconds per job and whether the C
extension (bson._cbson) was used. Run it with a deployed venv's Python to compare
the pure-Python pymongo that the wheelhouse builds for Python >= 3.12 with a
C build. A benchmark: it prints numbers and asserts nothing.

  /opt/mrq/venv/bin/python bson_cost.py [--jobs N] [--repeat R]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time

import bson
import pymongo
from bson import ObjectId


def job_documents() -> list[dict]:
    """One job's documents: queued, started (update), success with result (update), read back."""
    now = datetime.datetime(2026, 11, 29, 12, 0, 0)
    job = {
        "_id": ObjectId(),
        "path": "tasks_push.task1",
        "params": {"x": 1234},
        "queue": "task1",
        "status": "queued",
        "datequeued": now,
        "dateupdated": now,
    }
    started = {"$set": {"status": "started", "worker": ObjectId(), "datestarted": now, "dateupdated": now}}
    done = {"$set": {"status": "success", "result": "task1:1234", "dateupdated": now, "totaltime": 0.004}}
    read = {**job, "status": "success", "worker": ObjectId(), "result": "task1:1234", "totaltime": 0.004}
    return [job, started, done, read]


def per_job_us(jobs: int) -> float:
    docs = job_documents()
    t0 = time.perf_counter()
    for _ in range(jobs):
        for doc in docs:
            bson.decode(bson.encode(doc))
    return (time.perf_counter() - t0) / jobs * 1e6


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [per_job_us(args.jobs) for _ in range(args.repeat)]
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "pymongo": pymongo.version,
                "c_extension": bson.has_c(),
                "us_per_job_median": round(statistics.median(runs), 1),
                "runs": [round(r, 1) for r in runs],
            }
        )
    )


if __name__ == "__main__":
    main()
