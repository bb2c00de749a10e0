#!/usr/bin/env python3
"""bench: how fast MRQ drains jobs as this project deploys it, against bare MRQ,
in one run on the same sandbox hosts (`./mrq-lab bench`).

Provisions (after `./mrq-lab bench` has built the stand-in repository that the
sandbox serves) tests/bench/inventory (two sandbox hosts: mrq-bench1 with Redis, MongoDB
- the TEST STAND-IN - and workers; mrq-bench2 with workers only) with playbook.yml,
then drains --jobs values off the raw no-storage queue bench_raw, --runs times per
configuration (the median is reported; in rounds, each configuration once per round),
one freshly started worker at a time:

  a  bare MRQ: `mrq-worker` from the deployed venv, no systemd, the seed's shape
     (1 process, 5 greenlets) and MRQ's default log level (DEBUG)
  a' bare MRQ with the shipped unit's greenlets, processes and log level
  b  the deployed unit mrq-worker@shipped: the role's defaults
  c' bare MRQ with the tuned unit's shape;  c  the deployed unit mrq-worker@tuned
  d  mrq-worker@bench on the regular queue bench (--regular-jobs jobs): bound by
     the TEST STAND-IN's storage, not a MongoDB figure
  e  b and c on mrq-bench2: Redis on another host than the worker
  and bare MRQ at INFO for processes x greenlets (the sweep).

Prints a table (jobs/s, CPU of worker, Redis and mongod as % of one core, ratio to a)
and writes OUT/results.json and OUT/throughput.png. With --inventory it measures
hosts already deployed with tests/bench/inventory/group_vars/mrq_workers.yml's
groups (the molecule cluster scenario's smoke run) and leaves their units as found.
It prints numbers; it asserts none (it fails only when a drain does not finish).

  tests/bench/bench.py [--jobs N] [--runs R] [--regular-jobs M] [--out DIR]
                       [--inventory FILE] [--sweep G,G,...] [--only KEY,...] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE / "tests/sandbox"))
from mrqsandbox.config import SSH_OPTS  # noqa: E402  (the sandbox tool's, for the same hosts)

SANDBOX = HERE / "tests/sandbox/sandbox.py"
INVENTORY = HERE / "tests/bench/inventory/hosts.yml"
DRAIN = HERE / "tests/bench/drain.py"
REMOTE_DRAIN = "/tmp/mrq-bench-drain.py"
KEY = "/var/lib/mrq-sandbox/ssh/id_ed25519"
RAW_QUEUE, REGULAR_QUEUE = "bench_raw", "bench"
BIN = Path(sys.executable).parent  # the controller venv's ansible-* commands
SWEEP_PROCESSES = ("0", "auto")
SETTLE = 3  # seconds a freshly started worker gets before the queue fills


@dataclass
class Host:
    name: str
    address: str
    user: str = "root"
    key: str = KEY

    def run(self, command: str, stdin: str = "") -> str:
        argv = ["ssh", "-i", self.key, *SSH_OPTS, f"{self.user}@{self.address}", command]
        res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=3600)
        if res.returncode != 0:
            sys.exit(f"bench: on {self.name}: {command}\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
        return res.stdout


@dataclass
class Config:
    key: str
    label: str
    host: Host
    kind: str  # raw | regular
    unit: str = ""  # a deployed unit, or
    bare: str = ""  # mrq-worker's arguments
    shape: tuple[str, int] = ("0", 5)  # processes, greenlets
    in_sweep: bool = False  # a point of the chart's jobs/s vs greenlets x processes
    runs: list[dict[str, Any]] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [r["jobs"] / r["seconds"] for r in self.runs]

    def rate(self) -> float:
        return statistics.median(self.rates())

    def cpu(self, what: str) -> str:
        """Median % of one core during the timed window ("-": not on the worker's host)."""
        shares = [100 * r["cpu"][what] / r["seconds"] for r in self.runs if r["cpu"][what] is not None]
        return f"{statistics.median(shares):.0f}" if shares else "-"


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(*cmd: str | Path) -> str:
    res = subprocess.run([str(c) for c in cmd], cwd=HERE, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed:\n{res.stdout[-4000:]}{res.stderr[-3000:]}")
    return res.stdout


def hosts_of(inventory: Path) -> tuple[dict[str, Host], dict[str, list[str]]]:
    data = json.loads(sh(BIN / "ansible-inventory", "-i", inventory, "--list"))
    hostvars = data["_meta"]["hostvars"]
    groups = {g: data.get(g, {}).get("hosts", []) for g in ("redis", "mrq_workers")}
    hosts = {
        name: Host(
            name,
            str(v.get("ansible_host", name)),
            str(v.get("ansible_user", "root")),
            str(v.get("ansible_ssh_private_key_file") or v.get("ansible_private_key_file") or KEY),
        )
        for name, v in hostvars.items()
    }
    return hosts, groups


def provision() -> None:
    log("sandbox hosts mrq-bench1, mrq-bench2 (every other sandbox host is stopped first)")
    sh(SANDBOX, "down")
    sh(SANDBOX, "up", "mrq-bench1=10.231.7.110", "mrq-bench2=10.231.7.111")
    log("ansible-playbook -i tests/bench/inventory/hosts.yml playbook.yml")
    t0 = time.monotonic()
    sh(BIN / "ansible-playbook", "-i", INVENTORY, "playbook.yml")
    log(f"deployed in {time.monotonic() - t0:.0f} s")


def group_shape(host: Host, group: str) -> tuple[str, int, str]:
    """A deployed worker group's processes, greenlets, and the host's MRQ log level."""
    env = dict(
        line.split("=", 1)
        for line in host.run(f"cat /etc/mrq/workers/{group}.env").splitlines()
        if "=" in line
    )
    level = host.run("sed -n 's/^LOG_LEVEL = \"\\(.*\\)\"$/\\1/p' /etc/mrq/mrq-config.py").strip()
    return env["MRQLAB_PROCESSES"], int(env["MRQLAB_GREENLETS"]), level or "INFO"


def bare_args(processes: str, greenlets: int, level: str) -> str:
    return f"--processes {processes} --greenlets {greenlets} --log_level {level}"


def plan(hosts: dict[str, Host], groups: dict[str, list[str]], sweep: list[int]) -> list[Config]:
    workers = groups["mrq_workers"]
    local = [h for h in workers if h in groups["redis"]]
    main = hosts[(local or workers)[0]]
    where = "Redis on the worker's host" if local else "Redis on another host"
    shipped, tuned = group_shape(main, "shipped"), group_shape(main, "tuned")
    raw = f"raw no-storage queue, {where}"

    def bare(key: str, label: str, shape: tuple[str, int, str]) -> Config:
        return Config(
            key, f"{key}. bare MRQ, {label}; {raw}", main, "raw", bare=bare_args(*shape), shape=shape[:2]
        )

    def unit(key: str, label: str, group: str, shape: tuple[str, int, str], host: Host = main) -> Config:
        kind = "regular" if group == "bench" else "raw"
        return Config(
            key,
            f"{key}. mrq-worker@{group}, {label}",
            host,
            kind,
            unit=f"mrq-worker@{group}",
            shape=shape[:2],
        )

    seed = ("0", 5, "DEBUG")
    configs = [
        bare("a", f"seed shape ({shape_text(seed)})", seed),
        bare("a'", f"b's shape ({shape_text(shipped)})", shipped),
        unit("b", f"shipped defaults ({shape_text(shipped)}); {raw}", "shipped", shipped),
        bare("c'", f"c's shape ({shape_text(tuned)})", tuned),
        unit("c", f"tuned profile ({shape_text(tuned)}); {raw}", "tuned", tuned),
        unit("d", "shipped defaults; REGULAR queue, bound by the TEST STAND-IN's storage", "bench", shipped),
    ]
    remote = [h for h in workers if h not in groups["redis"] and hosts[h] is not main]
    if remote:
        other = hosts[remote[0]]
        configs += [
            unit("e", f"on {other.name}, Redis on another host", "shipped", shipped, other),
            unit("e'", f"on {other.name}, Redis on another host", "tuned", tuned, other),
        ]
    for processes in SWEEP_PROCESSES:
        for greenlets in sweep:
            args = bare_args(processes, greenlets, "INFO")
            same = next((c for c in configs if c.bare == args), None)  # measured once, shown twice
            if same:
                same.in_sweep = True
                continue
            configs.append(
                Config(
                    f"sweep {processes}x{greenlets}",
                    f"bare MRQ, INFO, processes {processes}, {greenlets} greenlets; {raw}",
                    main,
                    "raw",
                    bare=args,
                    shape=(processes, greenlets),
                    in_sweep=True,
                )
            )
    return configs


def shape_text(shape: tuple[str, int, str]) -> str:
    processes, greenlets, level = shape
    procs = "1 process" if processes == "0" else f"processes {processes}"
    return f"{procs} x {greenlets} greenlets, {level}"


def mrq_units(host: Host) -> list[str]:
    out = host.run("systemctl list-units 'mrq-*' --state=active --plain --no-legend --type=service,socket")
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def stop_all(hosts: list[Host]) -> None:
    """One worker at a time on the whole bridge: every MRQ unit stopped."""
    for host in hosts:
        host.run("systemctl stop 'mrq-worker@*' mrq-scheduler mrq-dashboard.socket mrq-dashboard || true")


def measure_once(config: Config, all_hosts: list[Host], jobs: int, regular_jobs: int) -> None:
    """One drain with a freshly started worker, given SETTLE seconds to start."""
    stop_all(all_hosts)
    host = config.host
    n = jobs if config.kind == "raw" else regular_jobs
    queue = RAW_QUEUE if config.kind == "raw" else REGULAR_QUEUE
    drain = [
        "runuser",
        "-u",
        "mrq",
        "--",
        "/opt/mrq/venv/bin/python",
        REMOTE_DRAIN,
        config.kind,
        queue,
        str(n),
    ]
    drain += ["--settle", str(SETTLE)]
    if config.unit:
        host.run(f"systemctl start {config.unit} && systemctl is-active {config.unit}")
        drain += ["--unit", config.unit]
    else:
        drain += ["--bare", config.bare]
    out = host.run(shlex.join(drain))
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if len(runs) != 1:
        sys.exit(f"bench: {config.label}: no result:\n{out}")
    config.runs += runs
    if config.unit:
        host.run(f"systemctl stop {config.unit}")


def measure(configs: list[Config], all_hosts: list[Host], jobs: int, regular_jobs: int, runs: int) -> None:
    """Rounds: each configuration once per round, so that drift of the shared
    machine over the minutes the benchmark takes spreads over all of them."""
    for i in range(runs):
        for config in configs:
            measure_once(config, all_hosts, jobs, regular_jobs)
        log(
            f"round {i + 1} of {runs}: "
            + ", ".join(f"{c.key} {c.runs[-1]['jobs'] / c.runs[-1]['seconds']:,.0f}" for c in configs)
        )


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return f"{os.cpu_count()} CPUs ({model}), sandbox hosts share them"


def table(configs: list[Config], jobs: int, regular_jobs: int, runs: int) -> str:
    base = next((c for c in configs if c.key == "a"), None)
    lines = [
        f"MRQ 0.9.10 drain, median of {runs} runs of {jobs:,} jobs ({regular_jobs:,} for d), on {machine()}.",
        "MongoDB is the TEST STAND-IN (SecantusDB, not MongoDB): d is its bound, not MongoDB's.",
        "",
        "| configuration | jobs/s | runs: lowest - highest | worker CPU % | Redis CPU % | mongod CPU %"
        " | ratio to a |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in configs:
        ratio = f"{c.rate() / base.rate():.2f}" if base else ""
        lines.append(
            f"| {c.label} | {c.rate():,.0f} | {min(c.rates()):,.0f} - {max(c.rates()):,.0f}"
            f" | {c.cpu('worker')} | {c.cpu('redis')} | {c.cpu('mongod')} | {ratio} |"
        )
    by_key = {c.key: c for c in configs}
    lines += [
        "",
        "Ratios: the median of the per-round ratios (each round runs every configuration once,"
        " one after the other), lowest - highest in brackets.",
        "",
    ]
    for name, num, den in (
        ("b / a' (deployed unit vs bare MRQ, same shape; target >= 0.90)", "b", "a'"),
        ("c / c' (deployed unit vs bare MRQ, same shape; target >= 0.90 per process)", "c", "c'"),
        ("b / a (shipped defaults vs the seed's shape; target >= 2)", "b", "a"),
        ("c / a (tuned profile vs the seed's shape; target >= 5)", "c", "a"),
        ("e / b (Redis on another host vs the worker's host)", "e", "b"),
    ):
        if num in by_key and den in by_key:
            per_round = [x / y for x, y in zip(by_key[num].rates(), by_key[den].rates())]
            lines.append(
                f"- {name}: {statistics.median(per_round):.2f} ({min(per_round):.2f} - {max(per_round):.2f})"
            )
    return "\n".join(lines)


def chart(configs: list[Config], path: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = [c for c in configs if not c.key.startswith("sweep")]
    sweep = [c for c in configs if c.in_sweep]
    fig, axes = plt.subplots(1, 2 if sweep else 1, figsize=(13 if sweep else 7, 5.2), squeeze=False)
    ax = axes[0][0]
    colors = ["#c44e52" if c.kind == "regular" else "#8c8c8c" if c.bare else "#4c72b0" for c in main]
    ax.barh([c.key for c in main][::-1], [c.rate() for c in main][::-1], color=colors[::-1])
    for i, c in enumerate(main[::-1]):
        ax.text(c.rate(), i, f" {c.rate():,.0f}", va="center", fontsize=8)
    ax.set_xlabel("jobs/s (median)")
    ax.set_title(
        "per configuration (grey: bare MRQ, blue: deployed unit,\nred: regular queue, TEST STAND-IN bound)",
        fontsize=9,
    )
    if sweep:
        ax = axes[0][1]
        for processes in SWEEP_PROCESSES:
            points = sorted((c.shape[1], c.rate()) for c in sweep if c.shape[0] == processes)
            label = "1 process" if processes == "0" else f"processes {processes} (one per CPU)"
            ax.plot([g for g, _ in points], [r for _, r in points], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("greenlets per process")
        ax.set_ylabel("jobs/s (median)")
        ax.set_title("bare MRQ at INFO: jobs/s vs greenlets x processes", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"MRQ 0.9.10 raw no-storage queue drain; {subtitle}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20000, help="jobs per raw-queue run (default 20,000)")
    parser.add_argument("--regular-jobs", type=int, default=1000, help="jobs per regular-queue run (d)")
    parser.add_argument("--runs", type=int, default=5, help="rounds: runs per configuration (the median)")
    parser.add_argument("--out", type=Path, default=HERE / ".artifacts/bench")
    parser.add_argument("--inventory", type=Path, help="measure these deployed hosts (no provisioning)")
    parser.add_argument(
        "--sweep",
        type=lambda text: [int(g) for g in text.split(",") if g],
        default=[1, 5, 20, 50, 100],
        help="greenlets of the bare-MRQ sweep, comma-separated (default 1,5,20,50,100; '' for none)",
    )
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        help="these configurations only, comma-separated keys (e.g. a,a',b); ratios need both sides",
    )
    parser.add_argument("--keep", action="store_true", help="leave the bench hosts running")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sandbox hosts)")
    if min(args.jobs, args.regular_jobs, args.runs) < 1:
        sys.exit("bench: --jobs, --regular-jobs and --runs are >= 1")
    if not args.inventory:
        provision()
    try:
        hosts, groups = hosts_of(args.inventory or INVENTORY)
        workers = [hosts[h] for h in groups["mrq_workers"]]
        before = {h.name: mrq_units(h) for h in workers}
        for host in workers:
            host.run(f"cat > {REMOTE_DRAIN}", stdin=DRAIN.read_text())
        configs = [c for c in plan(hosts, groups, args.sweep) if not args.only or c.key in args.only]
        t0 = time.monotonic()
        try:
            measure(configs, workers, args.jobs, args.regular_jobs, args.runs)
        finally:
            for host in workers:
                if before[host.name]:
                    host.run(f"systemctl start {' '.join(before[host.name])}")
        log(f"measured in {time.monotonic() - t0:.0f} s")
        report = table(configs, args.jobs, args.regular_jobs, args.runs)
        print(report)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "table.md").write_text(report + "\n")
        (args.out / "results.json").write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "jobs": args.jobs,
                    "regular_jobs": args.regular_jobs,
                    "runs": args.runs,
                    "configs": [
                        {
                            "key": c.key,
                            "label": c.label,
                            "host": c.host.name,
                            "shape": c.shape,
                            "runs": c.runs,
                        }
                        for c in configs
                    ],
                },
                indent=1,
            )
        )
        chart(configs, args.out / "throughput.png", machine())
        log(f"wrote {args.out}/table.md, results.json, throughput.png")
    finally:
        if not args.inventory and not args.keep:
            sh(SANDBOX, "down")


if __name__ == "__main__":
    main()
