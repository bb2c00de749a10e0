"""findAndModify and sorted finds on the TEST STAND-IN (SecantusDB, not MongoDB).

mongod.py makes a sorted find with a limit walk an index and stop early, and a
filter with an `_id` fetch one document (see patch_sorted_find and
patch_id_lookup there): MRQ's dequeue is a findAndModify of that shape. These
tests run the real wrapper on loopback and check that the results did not
change: concurrent dequeuers never share a job, the order is datequeued's,
the reply is findAndModify's, and a limited sorted find returns what the
engine's own (unlimited) sort returns.

The server needs SecantusDB: $MRQ_STANDIN_PYTHON (a Python that imports
secantus, e.g. a venv with tests/mongodb-standin/requirements.txt), else the
runtime staged from the wheels in $MRQ_STANDIN_WHEELS (as test_build.py does,
run by /usr/bin/python3); without either they are skipped. The client is
pymongo 3 or 4: this Python's, else the runtime's.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)
QUERY = {"status": "queued", "queue": "default"}
SORT = [("datequeued", 1), ("_id", 1)]
FIELDS = {"_id": 1, "path": 1, "params": 1, "status": 1, "retry_count": 1, "queue": 1, "datequeued": 1}


def load_build() -> Any:
    spec = importlib.util.spec_from_file_location("standin_build_fam", HERE / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runtime(tmp: Path) -> tuple[list[str], Path]:
    """The command that runs the wrapper, and a site directory with pymongo."""
    python = os.environ.get("MRQ_STANDIN_PYTHON")
    if python:
        code = "import os, pymongo, secantus; print(os.path.dirname(os.path.dirname(pymongo.__file__)))"
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            pytest.skip(f"MRQ_STANDIN_PYTHON={python} cannot import secantus and pymongo")
        return [python, str(HERE / "mongod.py")], Path(res.stdout.strip())
    wdir = Path(os.environ.get("MRQ_STANDIN_WHEELS") or "/nonexistent")
    if not any(wdir.glob("*.whl")):
        pytest.skip("needs SecantusDB: set MRQ_STANDIN_PYTHON, or MRQ_STANDIN_WHEELS (see test_build.py)")
    build = load_build()
    bookworm = build.RELEASES["bookworm"]
    stamp = wdir / ".stamp"
    if stamp.exists() and stamp.read_text() != build.wheel_stamp(bookworm):
        pytest.skip(f"the wheels in {wdir} are not bookworm's for this requirements.txt")
    if sys.version_info[:2] != (3, 11) or not Path("/usr/bin/python3").exists():
        pytest.skip("the runtime from wheels needs Python 3.11 here and in /usr/bin/python3")
    build.stage_runtime(tmp / "runtime", "0+test", wdir, bookworm)
    lib = tmp / "runtime/usr/lib/mongodb-standin"
    return ["/usr/bin/python3", "-I", "-S", "-B", str(lib / "mongod.py")], lib / "site"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, loopback_mongod: Any) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("standin-fam")
    command, site = runtime(tmp)
    try:
        import pymongo
    except ImportError:
        sys.path.append(str(site))
        import pymongo
    with loopback_mongod(command, tmp) as server:
        mongo = pymongo.MongoClient(
            "127.0.0.1", server.port, serverSelectionTimeoutMS=30000, socketTimeoutMS=120000, maxPoolSize=20
        )
        try:
            mongo.admin.command("ping")
            yield mongo
        finally:
            mongo.close()


@pytest.fixture
def jobs(client: Any) -> Any:
    """An empty mrq_jobs with the indexes MRQ's EnsureIndexes creates."""
    coll = client.standin_fam.mrq_jobs
    coll.drop()
    coll.create_index([("status", 1)], background=True)
    coll.create_index([("path", 1)], background=True)
    coll.create_index([("worker", 1)], background=True, sparse=True)
    coll.create_index([("queue", 1)], background=True)
    coll.create_index([("dateexpires", 1)], sparse=True, background=True, expireAfterSeconds=0)
    coll.create_index([("dateretry", 1)], sparse=True, background=True)
    coll.create_index([("datequeued", 1)], background=True)
    coll.create_index([("queue", 1), ("status", 1), ("datequeued", 1), ("_id", 1)], background=True)
    return coll


def queue_jobs(coll: Any, n: int, *, queue: str = "default", finished: int = 0, seed: int = 1) -> list[Any]:
    """n queued jobs shaped like MRQ's (datequeued shuffled, some equal), plus
    `finished` ones in status success; returns the queued ones' _ids."""
    rng = random.Random(seed)
    docs = [
        {
            "path": "tests.tasks.general.Add",
            "params": {"a": i, "b": 1},
            "queue": queue,
            "status": "success",
            "datequeued": NOW - datetime.timedelta(hours=1, seconds=i),
            # From the real clock: the TTL index must not remove them mid-test.
            "dateexpires": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7),
        }
        for i in range(finished)
    ]
    queued = [
        {
            "path": "tests.tasks.general.Add",
            "params": {"a": i, "b": 2},
            "queue": queue,
            "status": "queued",
            "datequeued": NOW + datetime.timedelta(milliseconds=rng.randrange(n // 2 + 1)),
        }
        for i in range(n)
    ]
    rng.shuffle(queued)
    docs += queued
    for i in range(0, len(docs), 1000):
        coll.insert_many(docs[i : i + 1000])
    return [d["_id"] for d in queued]


def dequeue(coll: Any, worker: Any = None, *, sort: list[tuple[str, int]] = SORT) -> Any:
    """MRQ 0.9.10's Queue.dequeue_jobs, one job."""
    from pymongo import ReturnDocument

    return coll.find_one_and_update(
        QUERY,
        {
            "$set": {"status": "started", "datestarted": NOW, "worker": worker},
            "$unset": {"dateexpires": 1},
        },
        sort=sort,
        return_document=ReturnDocument.AFTER,
        projection=FIELDS,
    )


def test_concurrent_dequeuers_get_every_job_exactly_once(jobs: Any) -> None:
    from bson import ObjectId

    queued = queue_jobs(jobs, 500, finished=300)
    queue_jobs(jobs, 20, queue="other", seed=2)
    got: dict[ObjectId, list[Any]] = {}
    errors: list[BaseException] = []

    def worker() -> None:
        me = ObjectId()
        mine = got.setdefault(me, [])
        try:
            while (job := dequeue(jobs, me)) is not None:
                mine.append(job["_id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert not errors
    assert len(got) == 8
    everything = [i for ids in got.values() for i in ids]
    assert len(everything) == len(set(everything)) == 500
    assert set(everything) == set(queued)
    for me, ids in got.items():
        assert {d["_id"] for d in jobs.find({"worker": me})} == set(ids)
    assert jobs.count_documents({"status": "started", "dateexpires": {"$exists": True}}) == 0
    assert jobs.count_documents({"status": "queued"}) == 20
    assert jobs.count_documents({"status": "success"}) == 300


@pytest.mark.parametrize("direction", [1, -1])
def test_one_dequeuer_follows_datequeued_then_id(jobs: Any, direction: int) -> None:
    queue_jobs(jobs, 200, finished=100)
    sort = [("datequeued", direction), ("_id", direction)]
    expected = [
        (d["datequeued"], d["_id"])
        for d in jobs.find(QUERY).sort(sort)  # no limit: the engine's sort
    ]
    assert len({d for d, _i in expected}) < len(expected)  # ties on datequeued, broken by _id
    got = []
    while (job := dequeue(jobs, sort=sort)) is not None:
        got.append((job["datequeued"], job["_id"]))
    assert got == expected
    assert got == sorted(got, reverse=direction == -1)


def test_new_returns_the_updated_document_with_the_projection(jobs: Any) -> None:
    from bson import ObjectId
    from pymongo import ReturnDocument

    queue_jobs(jobs, 30, finished=10)
    first = jobs.find(QUERY).sort(SORT)[0]
    me = ObjectId()
    job = dequeue(jobs, me)
    assert job == {
        "_id": first["_id"],
        "path": "tests.tasks.general.Add",
        "params": first["params"],
        "status": "started",
        "queue": "default",
        "datequeued": first["datequeued"],
    }
    stored = jobs.find_one({"_id": first["_id"]})
    assert stored["worker"] == me
    assert stored["datestarted"] == NOW
    second = jobs.find(QUERY).sort(SORT)[0]
    before = jobs.find_one_and_update(
        QUERY,
        {"$set": {"status": "started"}},
        sort=SORT,
        projection={"status": 1, "_id": 0},
        return_document=ReturnDocument.BEFORE,
    )
    assert before == {"status": "queued"}
    assert jobs.find_one({"_id": second["_id"]})["status"] == "started"


def test_reply_has_findandmodify_shape(jobs: Any) -> None:
    queue_jobs(jobs, 5)
    update = {"$set": {"status": "started"}}
    sort = {"datequeued": 1, "_id": 1}
    db = jobs.database
    hit = db.command("findAndModify", jobs.name, query=QUERY, sort=sort, update=update, new=True)
    assert hit["ok"] == 1.0
    assert hit["lastErrorObject"] == {"n": 1, "updatedExisting": True}
    assert hit["value"]["status"] == "started"
    miss = db.command(
        "findAndModify", jobs.name, query={**QUERY, "queue": "nothing"}, sort=sort, update=update
    )
    assert miss["ok"] == 1.0
    assert miss["lastErrorObject"] == {"n": 0, "updatedExisting": False}
    assert miss["value"] is None


def test_a_filter_matching_nothing_returns_none(jobs: Any) -> None:
    from pymongo import ReturnDocument

    queue_jobs(jobs, 20, finished=20)
    before = list(jobs.find().sort("_id", 1))
    for query in (
        {"status": "queued", "queue": "nothing"},
        {"status": "nothing", "queue": "default"},
        {**QUERY, "path": {"$in": ["no.such.Task"]}},
    ):
        value = jobs.find_one_and_update(
            query,
            {"$set": {"status": "started"}},
            sort=SORT,
            return_document=ReturnDocument.AFTER,
            projection=FIELDS,
        )
        assert value is None
    assert list(jobs.find().sort("_id", 1)) == before


def test_residual_clauses_are_matched(jobs: Any) -> None:
    queue_jobs(jobs, 50)
    wanted = jobs.find({**QUERY, "params.a": {"$gte": 40}}).sort(SORT)[0]
    job = jobs.find_one_and_update(
        {**QUERY, "path": {"$in": ["tests.tasks.general.Add"]}, "params.a": {"$gte": 40}},
        {"$set": {"status": "started"}},
        sort=SORT,
    )
    assert job["_id"] == wanted["_id"]


def test_remove_returns_the_first_document_and_deletes_it(jobs: Any) -> None:
    queue_jobs(jobs, 20, finished=5)
    order = [d["_id"] for d in jobs.find(QUERY).sort(SORT)]
    removed = jobs.find_one_and_delete(QUERY, sort=SORT, projection={"_id": 1})
    assert removed == {"_id": order[0]}
    assert jobs.find_one({"_id": order[0]}) is None
    assert [d["_id"] for d in jobs.find(QUERY).sort(SORT)] == order[1:]
    reply = jobs.database.command(
        "findAndModify", jobs.name, query={"queue": "nothing"}, sort={"_id": 1}, remove=True
    )
    assert reply["value"] is None
    assert reply["lastErrorObject"] == {"n": 0}


def test_upsert_inserts_when_nothing_matches(jobs: Any) -> None:
    from pymongo import ReturnDocument

    queue_jobs(jobs, 3)
    value = jobs.find_one_and_update(
        {"status": "queued", "queue": "fresh"},
        {"$set": {"path": "x.Y"}},
        sort=SORT,
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert value["queue"] == "fresh"
    assert value["status"] == "queued"
    assert value["path"] == "x.Y"
    assert jobs.count_documents({"queue": "fresh"}) == 1
    reply = jobs.database.command(
        "findAndModify",
        jobs.name,
        query={"queue": "fresher"},
        sort={"datequeued": 1},
        update={"$set": {"status": "queued"}},
        upsert=True,
    )
    assert reply["value"] is None
    assert reply["lastErrorObject"]["updatedExisting"] is False
    assert reply["lastErrorObject"]["upserted"] == jobs.find_one({"queue": "fresher"})["_id"]
    # An upsert that matches updates the first document in sort order.
    first = jobs.find(QUERY).sort(SORT)[0]
    value = jobs.find_one_and_update(
        QUERY, {"$set": {"status": "started"}}, sort=SORT, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert value["_id"] == first["_id"]


def test_id_with_other_clauses_is_matched_whole(jobs: Any) -> None:
    ids = queue_jobs(jobs, 10)
    one, two = ids[:2]
    assert jobs.update_one({"_id": one, "$and": [{"status": "done"}]}, {"$set": {"x": 1}}).matched_count == 0
    assert jobs.update_one({"_id": one, "$and": [QUERY]}, {"$set": {"x": 1}}).matched_count == 1
    assert jobs.update_one({"_id": {"$in": [one, two]}, "x": 1}, {"$set": {"y": 1}}).matched_count == 1
    assert jobs.find_one({"_id": one})["y"] == 1
    assert [d["_id"] for d in jobs.find({"_id": {"$in": [one, two]}, "x": {"$exists": False}})] == [two]
    assert jobs.delete_one({"_id": two, "status": "started"}).deleted_count == 0
    assert jobs.delete_one({"_id": two, "status": "queued"}).deleted_count == 1
    assert jobs.count_documents({}) == 9


VALUES = ["", "a", "ab", "abc", "b", 0, 1, 1.5, -2, None, NOW, NOW + datetime.timedelta(seconds=1)]


@pytest.mark.parametrize(
    ("index", "query", "sort"),
    [
        ([("g", 1), ("a", 1), ("b", 1)], {"g": "x"}, [("a", 1), ("b", 1)]),
        ([("g", 1), ("a", 1), ("b", 1)], {"g": "x"}, [("a", -1), ("b", -1)]),
        ([("g", 1), ("a", 1), ("b", 1)], {"g": "x", "b": {"$ne": "a"}}, [("a", 1)]),
        ([("g", -1), ("a", 1)], {"g": "y", "a": {"$gte": 1}}, [("a", -1)]),
        ([("g", 1), ("a", -1), ("b", -1)], {"g": "x"}, [("a", -1), ("b", -1)]),
        ([("g", 1), ("a", -1)], {"g": "x"}, [("a", 1)]),
        ([("a", 1), ("b", 1)], {}, [("a", 1), ("b", 1)]),
        ([("a", 1), ("b", 1)], {"g": {"$in": ["x", "y"]}}, [("a", -1), ("b", -1)]),
        ([("h", 1), ("g", 1), ("a", 1)], {"g": "x", "h": 2}, [("a", 1)]),
        ([("h", 1), ("g", 1), ("a", 1)], {"g": "x", "h": 2.0}, [("a", -1)]),
    ],
)
def test_limited_sorted_find_agrees_with_the_engines_sort(
    jobs: Any, index: list[tuple[str, int]], query: dict[str, Any], sort: list[tuple[str, int]]
) -> None:
    """A sorted find with a limit (the index walk) returns the first documents
    of the same find without one (the engine's own sort), ties aside."""
    rng = random.Random(7)
    jobs.create_index(index)
    jobs.insert_many(
        [
            {
                "g": rng.choice(["x", "y", "xx"]),
                "h": rng.choice([1, 2]),
                "a": rng.choice(VALUES),
                "b": rng.choice(VALUES),
                **({} if rng.random() < 0.1 else {"c": rng.random()}),
            }
            for _ in range(300)
        ]
        + [{"g": "x", "h": 2}, {"g": "x", "h": 2, "a": "a"}]  # a and b missing
    )
    full = list(jobs.find(query).sort(sort))
    assert len(full) > 5

    def keys(docs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [tuple(repr(d.get(f)) for f, _ in sort) for d in docs]

    full_ids = {d["_id"] for d in full}
    for limit in (1, 3, len(full) + 5):
        part = list(jobs.find(query).sort(sort).limit(limit))
        assert keys(part) == keys(full[:limit])
        assert {d["_id"] for d in part} <= full_ids
        assert len({d["_id"] for d in part}) == len(part)
    skipped = list(jobs.find(query, {"a": 1, "_id": 0}).sort(sort).skip(2).limit(2))
    assert [{"a": d["a"]} if "a" in d else {} for d in full[2:4]] == skipped


def test_dequeue_does_not_slow_down_with_the_backlog(jobs: Any) -> None:
    """Before mongod.py's patches: ~4 dequeues/s with 5,000 queued jobs (every
    candidate decoded and sorted, then the write scanned the collection)."""
    queue_jobs(jobs, 3000, finished=2000)
    start = time.monotonic()
    for _ in range(60):
        assert dequeue(jobs) is not None
    assert time.monotonic() - start < 10  # ~0.1 s with them, on loopback


def test_multikey_index_is_not_walked(jobs: Any) -> None:
    """An index over arrays holds one entry per element: its order is not the
    sort's, so the engine sorts as before."""
    jobs.create_index([("g", 1), ("a", 1)])
    jobs.insert_many([{"g": "x", "a": [5, 1]}, {"g": "x", "a": [3]}, {"g": "x", "a": 2}, {"g": "x"}])
    for direction in (1, -1):
        full = [d.get("a") for d in jobs.find({"g": "x"}).sort("a", direction)]
        part = [d.get("a") for d in jobs.find({"g": "x"}).sort("a", direction).limit(2)]
        assert part == full[:2]
        assert full[0] == (None if direction == 1 else [5, 1])
