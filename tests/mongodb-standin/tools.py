"""`mongodump` and `mongorestore` of the TEST STAND-IN package.

NOT MongoDB's database tools. They take the subset of the real tools' options
that mrq-lab's backup and restore use, with the same meaning, and talk to any
server over the wire (pymongo), so the mongodb role's backup timer and restore
playbook run unchanged where MongoDB's packages cannot be fetched:

  mongodump    --host H --port P [--username U [--password PW]]
               [--authenticationDatabase DB] --db DB --archive[=FILE] [--gzip] [--quiet]
  mongorestore --host H --port P [--username U [--password PW]]
               [--authenticationDatabase DB] --archive[=FILE] [--gzip] [--drop]
               [--nsInclude PATTERN]... [--quiet]

As the real tools do when stdin is not a terminal, a --username without
--password reads the password from the first line of stdin. --archive without
a file is stdout (dump) or stdin (restore).

The archive is the stand-in's own format, not mongodump's: a stream of BSON
documents (gzip-compressed with --gzip): a header, then per collection one
{"ns", "options", "indexes"} record followed by {"ns", "doc"} records. The
real mongorestore cannot read it, nor this one the real mongodump's.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import gzip
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

LIB = Path(__file__).resolve().parent
if (LIB / "site").is_dir():
    sys.path.insert(0, str(LIB / "site"))

import bson  # noqa: E402
import bson.errors  # noqa: E402
import pymongo  # noqa: E402
import pymongo.errors  # noqa: E402

MAGIC = "mrq-lab TEST STAND-IN archive (not mongodump's format)"
BATCH = 1000


def say(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        now = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
        print(f"{now}\t{message}", file=sys.stderr, flush=True)


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=f"{prog} (TEST STAND-IN, not MongoDB's tool)")
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=27017)
    p.add_argument("--username", "-u")
    p.add_argument("--password", "-p")
    p.add_argument("--authenticationDatabase")
    p.add_argument("--archive", nargs="?", const="-", required=True)
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--ssl", action="store_true", help="TLS, checking the server's certificate (--sslCAFile)")
    p.add_argument("--sslCAFile")
    p.add_argument("--sslAllowInvalidHostnames", action="store_true")
    p.add_argument("--version", action="version", version=f"{prog} (mrq-lab TEST STAND-IN)")
    if prog == "mongodump":
        p.add_argument("--db", "-d", required=True)
    else:
        p.add_argument("--drop", action="store_true")
        p.add_argument("--nsInclude", action="append", default=[])
    return p


def client(args: argparse.Namespace, default_auth_db: str) -> pymongo.MongoClient[dict[str, Any]]:
    host, _, port = args.host.partition(":")
    options: dict[str, Any] = {"serverSelectionTimeoutMS": 10000}
    if args.ssl:
        options.update(tls=True, tlsAllowInvalidHostnames=args.sslAllowInvalidHostnames)
        if args.sslCAFile:
            options["tlsCAFile"] = args.sslCAFile
    if args.username:
        password = args.password
        if password is None:
            print("Enter password:", file=sys.stderr, flush=True)
            password = sys.stdin.readline().rstrip("\n")
        options.update(
            username=args.username,
            password=password,
            authSource=args.authenticationDatabase or default_auth_db,
        )
    return pymongo.MongoClient(host, int(port or args.port), **options)


def open_archive(path: str, mode: str, compressed: bool) -> IO[bytes]:
    if path == "-":
        raw: IO[bytes] = sys.stdout.buffer if mode == "wb" else sys.stdin.buffer
    else:
        raw = open(path, mode)  # noqa: SIM115 - closed by the caller
    return gzip.GzipFile(fileobj=raw, mode=mode) if compressed else raw


def index_models(specs: list[dict[str, Any]]) -> list[pymongo.IndexModel]:
    return [
        pymongo.IndexModel(
            list(spec["key"].items()), **{k: v for k, v in spec.items() if k not in ("v", "key", "ns")}
        )
        for spec in specs
        if spec["name"] != "_id_"
    ]


def dump(argv: list[str]) -> int:
    args = parser("mongodump").parse_args(argv)
    db = client(args, args.db)[args.db]
    with open_archive(args.archive, "wb", args.gzip) as out:
        out.write(bson.encode({"magic": MAGIC, "db": args.db}))
        for name in sorted(db.list_collection_names()):
            if name.startswith("system."):
                continue
            coll = db[name]
            ns = f"{args.db}.{name}"
            say(args, f"writing {ns} to archive")
            indexes = [dict(spec) for spec in coll.list_indexes()]
            out.write(bson.encode({"ns": ns, "options": coll.options(), "indexes": indexes}))
            count = 0
            for doc in coll.find({}, batch_size=BATCH):
                out.write(bson.encode({"ns": ns, "doc": doc}))
                count += 1
            say(args, f"done dumping {ns} ({count} documents)")
    return 0


def records(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    return bson.decode_file_iter(stream)  # type: ignore[no-any-return]


def restore(argv: list[str]) -> int:
    args = parser("mongorestore").parse_args(argv)
    conn = client(args, "admin")
    restored = skipped = 0
    batch: list[dict[str, Any]] = []
    coll = None

    def flush() -> None:
        nonlocal batch, restored
        if batch and coll is not None:
            restored += len(conn[coll[0]][coll[1]].insert_many(batch, ordered=False).inserted_ids)
        batch = []

    def wanted(ns: str) -> bool:
        return not args.nsInclude or any(fnmatch.fnmatchcase(ns, p) for p in args.nsInclude)

    with open_archive(args.archive, "rb", args.gzip) as stream:
        it = records(stream)
        header = next(it, None)
        if not header or header.get("magic") != MAGIC:
            raise EOFError(f"{args.archive} is not an archive of the stand-in's mongodump")
        for rec in it:
            if "doc" in rec:
                if coll is None:
                    skipped += 1
                    continue
                batch.append(rec["doc"])
                if len(batch) >= BATCH:
                    flush()
                continue
            flush()
            dbname, _, name = rec["ns"].partition(".")
            if not wanted(rec["ns"]):
                coll = None
                continue
            coll = (dbname, name)
            target = conn[dbname]
            if args.drop:
                target.drop_collection(name)
            if name not in target.list_collection_names():
                target.create_collection(name, **rec.get("options", {}))
            models = index_models(rec.get("indexes", []))
            if models:
                target[name].create_indexes(models)
            say(args, f"restoring {rec['ns']} from archive")
        flush()
    say(args, f"{restored} document(s) restored successfully. 0 document(s) failed to restore.")
    if skipped:
        say(args, f"{skipped} document(s) of namespaces not included were skipped.")
    return 0


def main() -> int:
    tool, argv = Path(sys.argv[1]).name, sys.argv[2:]
    run = {"mongodump": dump, "mongorestore": restore}.get(tool)
    if run is None:
        sys.exit(f"tools.py: unknown tool {tool!r} (mongodump or mongorestore)")
    try:
        return run(argv)
    except (OSError, EOFError, bson.errors.BSONError, pymongo.errors.PyMongoError) as e:
        print(f"Failed: {e}", file=sys.stderr)  # one line, as MongoDB's tools end
        return 1


if __name__ == "__main__":
    sys.exit(main())
