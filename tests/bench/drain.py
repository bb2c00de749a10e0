"""drain.py: the host side of tests/bench/bench.py. Run on a deployed MRQ host with the
MRQ venv's Python, as the service user (it reads /etc/mrq/mrq-config.py); prints one
JSON line. A benchmark: it prints numbers and asserts nothing about them.

  drain.py raw QUEUE N (--unit UNIT | --bare ARGS) [--settle S]
      Put N values on the raw queue QUEUE at once (a RENAME of a list filled
      beforehand, so that filling costs the worker nothing), then time from the first
      value taken to the queue being empty. At that moment at most processes x
      greenlets jobs still run (each a few microseconds).
  drain.py regular QUEUE N --unit UNIT [--settle S]
      Queue N tasks_push.task1 jobs on the regular queue QUEUE (MongoDB), time
      from the first queued to all N `success` (the queue's Redis side polled until
      empty, then MongoDB for the last few running).
  --bare ARGS starts MRQ's own `mrq-worker ARGS --config ... QUEUE` from the venv (no
  systemd, no mrqlab wrapper; the venv's .pth applies the same compat fixes) for the
  run, then stops it; --settle gives the worker S seconds to start first. CPU over the
  timed window: utime+stime of the worker's process tree and of mongod's (if on this
  host), Redis's own count (INFO cpu, wherever it runs). Every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

CONFIG = "/etc/mrq/mrq-config.py"
VENV = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")


def unit_pid(unit: str) -> int:
    out = subprocess.run(
        ["systemctl", "show", "-p", "MainPID", "--value", unit], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip() or 0)


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of `root` and its descendants alive now."""
    if root <= 0:
        return 0.0
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / TICK
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def cpu_snapshot(worker_pid: int) -> dict[str, float | None]:
    """Redis's from its INFO (it may run on another host); mongod's if it runs here."""
    from mrq.context import connections

    info = connections.redis.info("cpu")
    mongod = unit_pid("mongod")
    return {
        "worker": tree_cpu(worker_pid),
        "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        "mongod": tree_cpu(mongod) if mongod > 0 else None,
    }


def wait_until(done: Callable[[], bool], seconds: float, what: str, every: float = 0.01) -> float:
    """Polls every 10 ms by default: a Redis round trip each, little beside the worker."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"drain.py: {what}: not within {seconds:.0f} s")
        time.sleep(every)
    return time.monotonic()


def result(jobs: int, t0: float, t1: float, c0: dict[str, Any], c1: dict[str, Any]) -> dict[str, Any]:
    cpu = {k: None if c0[k] is None or c1[k] is None else c1[k] - c0[k] for k in c0}
    return {"jobs": jobs, "seconds": t1 - t0, "cpu": cpu}


def raw_run(queue: str, n: int, worker_pid: int, limit: float) -> dict[str, Any]:
    from mrq.context import connections
    from mrq.queue import Queue

    redis = connections.redis
    key = Queue(queue).redis_key
    wait_until(lambda: redis.llen(key) == 0, limit, f"{queue} empty before the run", every=0.1)
    fill = f"{key}:bench-fill"
    redis.delete(fill)
    for start in range(0, n, 5000):
        redis.rpush(fill, *(str(i) for i in range(start, min(n, start + 5000))))
    redis.rename(fill, key)
    t0 = wait_until(lambda: redis.llen(key) < n, 30, f"a worker taking from {queue}", every=0.001)
    c0 = cpu_snapshot(worker_pid)
    t1 = wait_until(lambda: redis.llen(key) == 0, limit, f"{n} jobs off {queue}")
    return result(n, t0, t1, c0, cpu_snapshot(worker_pid))


def regular_run(queue: str, n: int, worker_pid: int, limit: float) -> dict[str, Any]:
    from mrq.context import connections
    from mrq.job import queue_jobs
    from mrq.queue import Queue

    waiting = Queue(queue)
    wait_until(lambda: waiting.size() == 0, limit, f"{queue} empty before the run", every=0.5)
    c0, t0 = cpu_snapshot(worker_pid), time.monotonic()
    ids = list(queue_jobs("tasks_push.task1", [str(i) for i in range(n)], queue=queue))
    # Redis holds the queue: poll it (cheap), then MongoDB once for the last few running.
    wait_until(lambda: waiting.size() == 0, limit, f"{n} jobs off {queue}", every=0.05)
    jobs = connections.mongodb_jobs.mrq_jobs

    def all_done() -> bool:
        return jobs.count_documents({"_id": {"$in": ids}, "status": "success"}) == n

    t1 = wait_until(all_done, 60, f"{n} jobs of {queue} success", every=0.1)
    return result(n, t0, t1, c0, cpu_snapshot(worker_pid))


def bare_worker(args: str, queue: str, log: Path) -> subprocess.Popen[bytes]:
    from mrqlab.raw import resolve_processes  # `--processes auto` as the units resolve it

    cmd = [str(VENV / "mrq-worker"), *resolve_processes(args.split()), "--config", CONFIG, queue]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=Path(CONFIG).parent, stdout=out, stderr=out, start_new_session=True)


def stop_bare(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (MRQ's graceful stop, forwarded to its children), then SIGKILL the group."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=["raw", "regular"])
    parser.add_argument("queue")
    parser.add_argument("jobs", type=int)
    worker = parser.add_mutually_exclusive_group(required=True)
    worker.add_argument("--unit", help="the deployed unit draining QUEUE, e.g. mrq-worker@shipped")
    worker.add_argument("--bare", help="mrq-worker's arguments, e.g. '--greenlets 5 --log_level DEBUG'")
    parser.add_argument("--log", default="/tmp/mrq-bench-bare.log", help="the bare worker's output")
    parser.add_argument("--settle", type=float, default=0, help="seconds the worker gets to start")
    args = parser.parse_args()
    if args.kind == "regular" and args.bare:
        parser.error("regular runs drain with a deployed unit (--unit)")

    from mrq.context import setup_context

    setup_context(file_path=CONFIG, config_type="run", sources=("file",))
    # Generous bounds that still end: 200 jobs/s for raw queues, 5 jobs/s (stand-in) for regular.
    limit = 60 + args.jobs / (200 if args.kind == "raw" else 5)
    run = raw_run if args.kind == "raw" else regular_run
    proc = bare_worker(args.bare, args.queue, Path(args.log)) if args.bare else None
    try:
        pid = proc.pid if proc else unit_pid(args.unit)
        if pid <= 0:
            sys.exit(f"drain.py: {args.unit} is not running")
        time.sleep(args.settle)
        if proc and proc.poll() is not None:
            sys.exit(f"drain.py: mrq-worker {args.bare} exited ({proc.returncode}), see {args.log}")
        print(json.dumps(run(args.queue, args.jobs, pid, limit)), flush=True)
    finally:
        if proc:
            stop_bare(proc)


if __name__ == "__main__":
    main()
