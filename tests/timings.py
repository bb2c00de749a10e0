#!/usr/bin/env python3
"""timings: how long playbook.yml takes, cold and re-run, on sandbox hosts.

Prints, for each checkout given (default: this one), in one run on the same
machine so that two versions can be compared side by side:
  - one host in every group (inventory/local, the demo's shape): cold
    converges, each on a fresh sandbox host (package caches warm; median of
    --colds), then idempotent re-runs (median), and the time per role of the
    last re-run;
  - the molecule `cluster` scenario (3 hosts): converge, then re-runs.
`--tree DIR=S1,S2` repeats the one-host runs and the cluster re-runs per
Ansible strategy, e.g. `--tree .=mrq_lab.cluster.mitogen_linear,linear`
(default: the checkout's ansible.cfg).

It takes the sandbox for itself (stops every sandbox host first) and leaves it
down. MongoDB in these runs is the TEST STAND-IN: its package install is part
of the cold converge here, not a MongoDB figure.

`--release R` runs the one-host part on a host of that Debian release (bookworm
or trixie: the stand-in cannot run on bullseye's Python 3.9).

  tests/timings.py [--tree DIR[=S1,S2]]... [--colds N] [--reruns N] [--skip-cluster] [--release R]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SANDBOX = HERE / "tests/sandbox/sandbox.py"
STANDIN = [
    "--out",
    "/var/cache/mrq-sandbox/www/mongodb-standin",
    "--cache",
    "/var/cache/mrq-sandbox/mongodb-standin",
]
ROLE_LINE = re.compile(r"^(\S+) -+ ([0-9.]+)s$")


@dataclass
class Result:
    label: str
    cold: dict[str, float] = field(default_factory=dict)  # the median of colds
    colds: dict[str, list[float]] = field(default_factory=dict)
    reruns: dict[str, list[float]] = field(default_factory=dict)
    roles: dict[str, dict[str, float]] = field(default_factory=dict)


def sh(*cmd: str | Path, cwd: Path = HERE, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env={**os.environ, **(env or {})}, text=True, capture_output=True
    )
    if res.returncode != 0:
        command = " ".join(map(str, cmd))
        sys.exit(f"timings: {command} failed ({res.returncode}):\n{res.stdout[-4000:]}{res.stderr[-2000:]}")
    return res.stdout


def timed(*cmd: str | Path, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.monotonic()
    out = sh(*cmd, cwd=cwd, env=env)
    return time.monotonic() - t0, out


def role_times(output: str) -> dict[str, float]:
    part = output.split("ROLES RECAP", 1)[-1]
    return {m[1]: float(m[2]) for line in part.splitlines() if (m := ROLE_LINE.match(line.strip()))}


def playbook_env(tree: Path, strategy: str) -> dict[str, str]:
    env = {
        "PATH": f"{tree / '.venv/bin'}:{os.environ['PATH']}",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_roles",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "MOLECULE_PROJECT_DIRECTORY": str(tree),  # older scenario inventories read it
    }
    if strategy:
        env["ANSIBLE_STRATEGY"] = strategy
    return env


def one_host(tree: Path, res: Result, strategies: list[str], reruns: int, colds: int, release: str) -> None:
    play = ["ansible-playbook", "-i", "inventory/local/hosts.yml", "playbook.yml"]
    for strategy in strategies:
        env = playbook_env(tree, strategy)
        # Each cold converge on a fresh host; they vary by seconds (apt, the
        # stand-in's start), so the median of several is reported.
        colds_s = []
        for _ in range(colds):
            sh(SANDBOX, "down")
            sh(SANDBOX, "up", f"mrq-demo=10.231.7.100@{release}")
            sh(
                tree / ".venv/bin/python",
                tree / "tests/mongodb-standin/build.py",
                *STANDIN,
                "--series",
                "3.4",
                "--newer-in-suite",  # as ./mrq-lab builds it: then there is nothing to rebuild
                cwd=tree,
            )
            colds_s.append(timed(*play, cwd=tree, env=env)[0])
        res.cold[strategy] = statistics.median(colds_s)
        res.colds[strategy] = colds_s
        times = []
        for _ in range(reruns):
            seconds, out = timed(*play, cwd=tree, env=env)
            if not re.search(r"changed=0 ", out):
                sys.exit(f"timings: a re-run of {tree} changed something:\n{out[-3000:]}")
            times.append(seconds)
        res.reruns[strategy] = times
        res.roles[strategy] = role_times(out)
        name = strategy or "default"
        log(f"{res.label} one host [{name}]: cold {fmt(colds_s)}, re-runs {fmt(times)}")


def cluster(tree: Path, res: Result, strategies: list[str], reruns: int) -> None:
    env = {"PATH": f"{tree / '.venv/bin'}:{os.environ['PATH']}"}
    sh("molecule", "destroy", "-s", "cluster", cwd=tree, env=env)
    sh("molecule", "create", "-s", "cluster", cwd=tree, env=env)
    sh("molecule", "prepare", "-s", "cluster", cwd=tree, env=env)
    try:
        res.cold["cluster"], _ = timed("molecule", "converge", "-s", "cluster", cwd=tree, env=env)
        # molecule's ephemeral directory of the scenario just converged
        inventory = max(
            Path.home().glob(".ansible/tmp/molecule.*.cluster/inventory"), key=lambda p: p.stat().st_mtime
        )
        for strategy in strategies:
            times = []
            for _ in range(reruns):
                seconds, out = timed(
                    "ansible-playbook",
                    "-i",
                    inventory,
                    "playbook.yml",
                    cwd=tree,
                    # the scenario's group_vars find its throw-away CA there
                    env=playbook_env(tree, strategy)
                    | {"MOLECULE_EPHEMERAL_DIRECTORY": str(inventory.parent)},
                )
                if not re.search(r"changed=0 ", out) or re.search(r"changed=[1-9]", out):
                    sys.exit(f"timings: a cluster re-run of {tree} changed something:\n{out[-3000:]}")
                times.append(seconds)
            res.reruns[f"cluster {strategy}"] = times
            log(f"{res.label} cluster [{strategy or 'default'}]: re-runs {fmt(times)}")
    finally:
        sh("molecule", "destroy", "-s", "cluster", cwd=tree, env=env)


def fmt(times: list[float]) -> str:
    return f"median {statistics.median(times):.1f} s of {', '.join(f'{t:.1f}' for t in times)}"


def log(msg: str) -> None:
    print(f"timings: {msg}", file=sys.stderr, flush=True)


def report(results: list[Result]) -> None:
    print("\n| checkout | run | strategy | seconds | re-run / cold |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        for strategy, cold in r.cold.items():
            if strategy == "cluster":
                continue
            rerun = statistics.median(r.reruns[strategy])
            name = strategy or "default"
            each = ", ".join(f"{c:.1f}" for c in r.colds[strategy])
            print(f"| {r.label} | one host: cold converge (median of {each}) | {name} | {cold:.1f} | |")
            print(f"| {r.label} | one host: re-run (median) | {name} | {rerun:.1f} | {rerun / cold:.0%} |")
        if "cluster" in r.cold:
            print(f"| {r.label} | cluster: converge (molecule) | default | {r.cold['cluster']:.1f} | |")
            for key, times in r.reruns.items():
                if key.startswith("cluster "):
                    name = key.removeprefix("cluster ") or "default"
                    median = statistics.median(times)
                    print(f"| {r.label} | cluster: re-run (median) | {name} | {median:.1f} | |")
    for r in results:
        for strategy, roles in r.roles.items():
            top = ", ".join(f"{name} {sec:.1f}" for name, sec in sorted(roles.items(), key=lambda kv: -kv[1]))
            print(f"\n{r.label} [{strategy or 'default'}], last one-host re-run, seconds per role: {top}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tree", action="append", help="DIR[=STRATEGY,...]: a checkout with its .venv (default: this one)"
    )
    parser.add_argument("--reruns", type=int, default=3)
    parser.add_argument("--colds", type=int, default=3, help="cold converges, each on a fresh host (median)")
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--release", default="bookworm", choices=["bookworm", "trixie"])
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("timings: run as root (sandbox hosts)")
    results = []
    try:
        for arg in args.tree or [str(HERE)]:
            path, _, names = arg.partition("=")
            tree, strategies = Path(path).resolve(), names.split(",") if names else [""]
            res = Result(label=tree.name if args.release == "bookworm" else f"{tree.name} ({args.release})")
            one_host(tree, res, strategies, args.reruns, args.colds, args.release)
            if not args.skip_cluster:
                cluster(tree, res, strategies, args.reruns)
            results.append(res)
    finally:
        sh(SANDBOX, "down")
    report(results)


if __name__ == "__main__":
    main()
