"""mrqlab-stop (the worker units' ExecStop), against a real process that acts
like an MRQ worker: first SIGINT = finish the running jobs, second SIGINT =
interrupt them, save (takes a while), exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mrqlab.stop import stop

WORKER = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    jobs_seconds, save_seconds, log = float(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    state = {"sigints": 0}
    def on_sigint(*_):
        state["sigints"] += 1
        log.write_text(log.read_text() + f"sigint {state['sigints']}\\n")
    signal.signal(signal.SIGINT, on_sigint)
    log.write_text("ready\\n")
    started = time.monotonic()
    while True:
        time.sleep(0.02)
        if state["sigints"] == 1 and time.monotonic() - started >= jobs_seconds:
            log.write_text(log.read_text() + "jobs finished\\n")
            sys.exit(0)
        if state["sigints"] >= 2:
            time.sleep(save_seconds)  # greenlets saving `interrupt`
            log.write_text(log.read_text() + "interrupt saved\\n")
            sys.exit(0)
    """
)


def start_worker(tmp_path: Path, jobs_seconds: float, save_seconds: float) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "log"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(jobs_seconds), str(save_seconds), str(log)])
    deadline = time.monotonic() + 10
    while not (log.exists() and "ready" in log.read_text()):
        assert time.monotonic() < deadline, "the fake worker did not start"
        time.sleep(0.02)
    return proc, log


def reaped(proc: subprocess.Popen):
    # The real worker's parent (systemd) reaps it; here the test process is the parent.
    return lambda pid: proc.poll() is None


def test_jobs_that_finish_in_time_get_one_sigint(tmp_path):
    proc, log = start_worker(tmp_path, jobs_seconds=0.3, save_seconds=0)
    assert stop(proc.pid, timeout=5, grace=5, is_alive=reaped(proc)) == "finished"
    assert log.read_text().splitlines() == ["ready", "sigint 1", "jobs finished"]


def test_longer_jobs_are_interrupted_and_the_stop_waits_for_their_save(tmp_path):
    proc, log = start_worker(tmp_path, jobs_seconds=60, save_seconds=1.0)
    t0 = time.monotonic()
    assert stop(proc.pid, timeout=0.5, grace=10, is_alive=reaped(proc)) == "interrupted"
    # returned only after the save: systemd's own signal then finds nothing to abort
    assert log.read_text().splitlines() == ["ready", "sigint 1", "sigint 2", "interrupt saved"]
    assert time.monotonic() - t0 >= 1.5


def test_a_worker_that_never_exits_is_left_to_systemd(tmp_path):
    proc, _ = start_worker(tmp_path, jobs_seconds=60, save_seconds=60)
    try:
        assert stop(proc.pid, timeout=0.3, grace=0.5, is_alive=reaped(proc)) == "still running"
    finally:
        proc.kill()
        proc.wait()


def test_no_process():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert stop(proc.pid, timeout=1) == "not running"


def test_a_process_whose_proc_entry_cannot_be_read_counts_as_alive(monkeypatch) -> None:
    """A sandbox may hide /proc/PID/stat from the stop command: it must keep waiting,
    not take the worker for gone (it would then be killed mid-job)."""
    from mrqlab import stop as stop_module

    def unreadable(self: Path) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(stop_module.Path, "read_text", unreadable)
    import os

    assert stop_module.alive(os.getpid())
