"""Can MRQ work with this host's configuration? (`mrqlab-health --config FILE`)

Connects to Redis and MongoDB exactly as the workers do, with the URIs of the
MRQ config file, and runs one command MRQ needs on each: a Redis write and
read-back of a scratch key, and a read of MongoDB's jobs collection. Prints
one line per link ("redis: ok" or "redis: <error>") and exits 1 if any fails.
Errors name the link and the server's reason; never a URI (they hold passwords).
Run by the mrq role at the end of every converge, as the service user.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from collections.abc import Callable

TIMEOUT_S = 5.0


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def check_redis(uri: str) -> None:
    import redis

    client = redis.Redis.from_url(uri, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        key = "mrqlab:health"
        client.set(key, "1", ex=60)
        if client.get(key) != b"1":
            raise RuntimeError("a key written could not be read back")
    finally:
        client.close()


def check_mongodb(uri: str) -> None:
    import pymongo

    ms = int(TIMEOUT_S * 1000)
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms)
    try:
        client.get_default_database().mrq_jobs.find_one({}, {"_id": 1})
    finally:
        client.close()


def run_checks(config: dict[str, object]) -> dict[str, str]:
    """{"redis": "ok" | error, "mongodb": "ok" | error}."""
    checks: dict[str, tuple[str, Callable[[str], None]]] = {
        "redis": ("REDIS", check_redis),
        "mongodb": ("MONGODB_JOBS", check_mongodb),
    }
    results = {}
    for link, (setting, check) in checks.items():
        uri = config.get(setting)
        if not isinstance(uri, str) or not uri:
            results[link] = f"{setting} is not set in the config"
            continue
        try:
            check(uri)
            results[link] = "ok"
        except Exception as exc:  # every failure is reported, by link
            results[link] = _error(exc)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mrqlab-health", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the MRQ config file (mrq-config.py)")
    args = parser.parse_args(argv)
    results = run_checks(runpy.run_path(args.config))
    for link, result in results.items():
        print(f"{link}: {result}")
    return 0 if all(r == "ok" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
