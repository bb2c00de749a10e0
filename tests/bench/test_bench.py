"""The benchmark's own logic, without hosts: the plan, the table's ratios, the chart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench
import drain

ENV = {
    "shipped": 'MRQLAB_QUEUES="bench_raw"\nMRQLAB_GREENLETS=20\nMRQLAB_PROCESSES=0\n',
    "tuned": 'MRQLAB_QUEUES="bench_raw"\nMRQLAB_GREENLETS=50\nMRQLAB_PROCESSES=auto\n',
}


class FakeHost(bench.Host):
    def run(self, command: str, stdin: str = "") -> str:
        if command.startswith("cat /etc/mrq/workers/"):
            return ENV[command.rsplit("/", 1)[1].removesuffix(".env")]
        if command.startswith("sed"):
            return "INFO\n"
        raise AssertionError(command)


def hosts(*names: str) -> dict[str, bench.Host]:
    return {n: FakeHost(n, f"10.0.0.{i}") for i, n in enumerate(names, 1)}


def test_plan_measures_on_the_redis_host_and_the_other_one() -> None:
    configs = bench.plan(hosts("b1", "b2"), {"redis": ["b1"], "mrq_workers": ["b1", "b2"]}, [5])
    keys = [c.key for c in configs]
    assert keys == ["a", "a'", "b", "c'", "c", "d", "e", "e'", "sweep 0x5", "sweep autox5"]
    by_key = {c.key: c for c in configs}
    assert by_key["a"].bare == "--processes 0 --greenlets 5 --log_level DEBUG"
    assert by_key["a'"].bare == "--processes 0 --greenlets 20 --log_level INFO"  # the unit's own shape
    assert by_key["c'"].bare == "--processes auto --greenlets 50 --log_level INFO"
    assert by_key["b"].host.name == "b1" and by_key["e"].host.name == "b2"
    assert by_key["d"].kind == "regular" and "STAND-IN" in by_key["d"].label


def test_plan_without_a_second_worker_host_has_no_e() -> None:
    configs = bench.plan(hosts("cache1", "app1"), {"redis": ["cache1"], "mrq_workers": ["app1"]}, [])
    assert [c.key for c in configs] == ["a", "a'", "b", "c'", "c", "d"]
    assert all(c.host.name == "app1" and "another host" in c.label for c in configs if c.kind == "raw")


def test_sweep_points_already_measured_are_measured_once() -> None:
    configs = bench.plan(hosts("b1"), {"redis": ["b1"], "mrq_workers": ["b1"]}, [5, 20, 50])
    swept = [c.key for c in configs if c.key.startswith("sweep")]
    assert swept == ["sweep 0x5", "sweep 0x50", "sweep autox5", "sweep autox20"]
    in_sweep = {c.key for c in configs if c.in_sweep}
    assert in_sweep == {"a'", "c'", "sweep 0x5", "sweep 0x50", "sweep autox5", "sweep autox20"}


def run(seconds: float, worker: float = 0.5, mongod: float | None = 0.0) -> dict:
    return {"jobs": 1000, "seconds": seconds, "cpu": {"worker": worker, "redis": 0.1, "mongod": mongod}}


def test_table_gives_medians_spreads_and_per_round_ratios() -> None:
    host = FakeHost("h", "10.0.0.1")
    a = bench.Config("a", "a. seed", host, "raw", runs=[run(1.0), run(0.5), run(2.0)])  # median 1,000/s
    b = bench.Config("b", "b. shipped", host, "raw", runs=[run(0.25, mongod=None)] * 3)  # 4,000/s
    a2 = bench.Config("a'", "a'. bare", host, "raw", runs=[run(0.2), run(0.25), run(0.125)])  # median 5,000/s
    text = bench.table([a, a2, b], 1000, 10, 3)
    assert "| a. seed | 1,000 | 500 - 2,000 | 50 | 10 | 0 | 1.00 |" in text
    assert "| b. shipped | 4,000 | 4,000 - 4,000 | 200 | 40 | - | 4.00 |" in text  # no mongod on b's host
    # Per round: 4000/5000, 4000/4000, 4000/8000.
    assert "- b / a' (deployed unit vs bare MRQ, same shape; target >= 0.90): 0.80 (0.50 - 1.00)" in text
    assert "- b / a (shipped defaults vs the seed's shape; target >= 2): 4.00 (2.00 - 8.00)" in text
    assert "c / a" not in text  # not measured, not reported
    assert "TEST STAND-IN" in text


def test_chart_is_a_png(tmp_path: Path) -> None:
    host = FakeHost("h", "10.0.0.1")
    configs = [
        bench.Config("a", "a", host, "raw", bare="x", runs=[run(1.0)]),
        bench.Config("d", "d", host, "regular", unit="u", runs=[run(9.0)]),
        bench.Config("sweep 0x5", "s", host, "raw", bare="x", shape=("0", 5), in_sweep=True, runs=[run(0.5)]),
        bench.Config("a'", "s", host, "raw", bare="y", shape=("0", 20), in_sweep=True, runs=[run(0.3)]),
    ]
    bench.chart(configs, tmp_path / "c.png", "test")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tree_cpu_counts_the_children() -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(30)"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"],
        start_new_session=True,
    )
    try:
        for _ in range(100):
            if drain.tree_cpu(parent.pid) >= 0.3:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert drain.tree_cpu(parent.pid) >= 0.3  # the parent itself barely ran
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    assert drain.tree_cpu(0) == 0.0
