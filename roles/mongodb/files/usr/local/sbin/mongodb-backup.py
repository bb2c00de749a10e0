#!/usr/bin/python3
"""Dump MongoDB databases into DIR and keep the newest few (installed by the
mongodb role as /usr/local/sbin/mongodb-backup; run by mongodb-backup.service).

Waits up to --wait seconds for the server to accept connections (a run right
after boot). For each --db: `mongodump --db DB --archive --gzip` as --user (a MongoDB user
with only the `backup` role; its password is read from --password-file and
handed to mongodump on stdin, never on a command line) into
DIR/.DB-<UTC time>.partial, renamed to DIR/DB-<UTC time>.archive.gz once
complete (a .partial left by a run that was killed is removed first). Then, per
database, dumps beyond the newest --keep, or older than --max-age-days, are
removed; the newest dump is always kept. Files are 0600
(umask 077), owned by whoever runs this.

  mongodb-backup --dir /var/backups/mongodb --db mrq --port 27017 \\
      --user mongodb-backup --password-file /etc/mongodb-backup/password --keep 7 --max-age-days 14
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

STAMP = "%Y%m%dT%H%M%SZ"
SUFFIX = ".archive.gz"


def dump_name(db: str, when: datetime.datetime) -> str:
    return f"{db}-{when.strftime(STAMP)}{SUFFIX}"


def dump_time(db: str, name: str) -> datetime.datetime | None:
    """The UTC time in a dump's name, or None if `name` is not a dump of `db`."""
    match = re.fullmatch(re.escape(db) + r"-(\d{8}T\d{6}Z)" + re.escape(SUFFIX), name)
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), STAMP).replace(tzinfo=datetime.timezone.utc)


def to_remove(
    db: str, names: list[str], keep: int, max_age: datetime.timedelta, now: datetime.datetime
) -> list[str]:
    """The dumps of `db` among `names` that retention removes: all but the
    newest `keep`, and any older than `max_age`, never the newest one."""
    dated = sorted(((t, n) for n in names if (t := dump_time(db, n))), reverse=True)
    return [name for i, (when, name) in enumerate(dated) if i > 0 and (i >= keep or now - when > max_age)]


def wait_for_server(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=5):
                return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(2)


def dump(args: argparse.Namespace, db: str, password: str, now: datetime.datetime) -> Path:
    final = args.dir / dump_name(db, now)
    partial = args.dir / f".{final.name[: -len(SUFFIX)]}.partial"
    for stale in args.dir.glob(f".{db}-*.partial"):  # of a run that was killed
        stale.unlink()
    argv = [
        args.mongodump,
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--username",
        args.user,
        "--authenticationDatabase",
        "admin",
        "--db",
        db,
        f"--archive={partial}",
        "--gzip",
        "--quiet",
    ]
    if args.ca_file:  # TLS over loopback: the CA is checked, the name is the host's network one
        argv += ["--ssl", f"--sslCAFile={args.ca_file}", "--sslAllowInvalidHostnames"]
    res = subprocess.run(argv, input=password + "\n", text=True, capture_output=True)
    if res.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"mongodump of {db} failed (exit {res.returncode}): {res.stderr.strip()[-2000:]}")
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    partial.rename(final)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--db", action="append", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", type=Path, required=True)
    parser.add_argument("--keep", type=int, required=True, help="dumps kept per database (at least 1)")
    parser.add_argument("--max-age-days", type=float, required=True)
    parser.add_argument("--ca-file", help="TLS, checking the server's certificate against this CA")
    parser.add_argument("--mongodump", default="mongodump")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the server")
    args = parser.parse_args(argv)
    if args.keep < 1:
        parser.error("--keep must be at least 1")
    os.umask(0o077)
    password = args.password_file.read_text().strip()
    if not wait_for_server(args.host, args.port, args.wait):
        print(
            f"MongoDB at {args.host}:{args.port} did not accept connections in {args.wait:g} s",
            file=sys.stderr,
        )
        return 1
    now = datetime.datetime.now(datetime.timezone.utc)
    failed = False
    for db in args.db:
        try:
            path = dump(args, db, password, now)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            failed = True
            continue
        print(f"{path}: {path.stat().st_size} bytes")
        names = [p.name for p in args.dir.iterdir()]
        for name in to_remove(db, names, args.keep, datetime.timedelta(days=args.max_age_days), now):
            (args.dir / name).unlink()
            print(f"removed {args.dir / name} (retention: {args.keep} dumps, {args.max_age_days:g} days)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
