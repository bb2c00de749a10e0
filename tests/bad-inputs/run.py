#!/usr/bin/env python3
"""Runs the bad-input table (cases.yml) against a converged sandbox host.

For each case: `ansible-playbook -i INVENTORY playbook.yml -e @case.json` must
fail, name the variable, and show no password (the case's own nor the
inventory's); then the host's configuration files and units must be
byte-identical to before, every service still active and not restarted, and
Redis and the dashboard must still answer. Prints a table (also written to
--report) and exits 1 if any case fails.

  run.py --inventory INV --host mrq-default --secrets molecule/default/group_vars [--report FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
SANDBOX = PROJECT / "tests/sandbox/sandbox.py"
SECRET_KEYS = ("password", "requirepass")
# What a refused run must leave as it was, and how to read it on the host.
FINGERPRINT = (
    "sha256sum /etc/redis/redis.conf /etc/redis/auth.conf /etc/mongod.conf"
    " /etc/mrq/mrq-config.py /etc/mrq/workers.env /etc/systemd/system/mrq-*.service;"
    " systemctl show -p Id -p ActiveState -p ActiveEnterTimestampMonotonic"
    " redis-server mongod mrq-dashboard mrq-scheduler 'mrq-worker@*'"
)
# Services answer: Redis refuses an unauthenticated PING (it is up), mongod
# accepts a TCP connection; the dashboard (asked from here) wants credentials.
ANSWERS = "redis-cli -h 127.0.0.1 PING; timeout 5 bash -c '</dev/tcp/127.0.0.1/27017' && echo mongod-accepts"
EXPECTED_ANSWERS = ("NOAUTH", "mongod-accepts", "dashboard-401")


@dataclass
class Result:
    names: str
    values: str
    refused: bool = False
    named: bool = False
    no_secret: bool = False
    unchanged: bool = False
    answering: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.refused and self.named and self.no_secret and self.unchanged and self.answering


def secrets_in(tree: Any, key: str = "") -> list[str]:
    """String values of password-like keys, anywhere in a vars tree."""
    if isinstance(tree, dict):
        return [s for k, v in tree.items() for s in secrets_in(v, str(k))]
    if isinstance(tree, list):
        return [s for v in tree for s in secrets_in(v, key)]
    if isinstance(tree, str) and any(word in key for word in SECRET_KEYS) and len(tree.strip()) >= 4:
        return [tree, tree.strip()]
    return []


def dashboard(address: str) -> str:
    try:
        urllib.request.urlopen(f"http://{address}:5555/", timeout=10)
    except urllib.error.HTTPError as e:
        return f"dashboard-{e.code}"
    except OSError as e:
        return f"dashboard-{e}"
    return "dashboard-200"


def answers(host: str, address: str) -> str:
    return on_host(host, ANSWERS) + dashboard(address)


def on_host(host: str, script: str) -> str:
    res = subprocess.run(
        [sys.executable, str(SANDBOX), "ssh", host, script], capture_output=True, text=True, timeout=60
    )
    return res.stdout + res.stderr


def run_case(case: dict[str, Any], args: argparse.Namespace, before: str, known: list[str]) -> Result:
    result = Result(case["names"], json.dumps(case["vars"]))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as extra:
        json.dump(case["vars"], extra)
        extra.flush()
        t0 = time.monotonic()
        res = subprocess.run(
            ["ansible-playbook", "-i", args.inventory, str(PROJECT / "playbook.yml"), "-e", f"@{extra.name}"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=PROJECT,
        )
        result.seconds = round(time.monotonic() - t0, 1)
    output = res.stdout + res.stderr
    result.refused = res.returncode != 0
    result.named = case["names"] in output
    leaked = [s for s in secrets_in(case["vars"]) + known if s in output]
    result.no_secret = not leaked
    after = on_host(args.host, FINGERPRINT)
    result.unchanged = after == before
    answered = answers(args.host, args.address)
    result.answering = all(a in answered for a in EXPECTED_ANSWERS)
    if not result.refused:
        result.notes.append("the run succeeded")
    if not result.named:
        failed = [line for line in output.splitlines() if "fatal:" in line or '"msg"' in line]
        result.notes.append(f"not named in: {' | '.join(failed[-3:])[:300]}")
    if leaked:
        result.notes.append("a password is shown in the output")
    if not result.unchanged:
        result.notes.append("the host changed")
    if not result.answering:
        result.notes.append(f"answers: {answered.strip()!r}")
    return result


def table(results: list[Result]) -> str:
    mark = {True: "yes", False: "**NO**"}
    rows = [
        "| variable | values | refused | named | no password shown | host unchanged | services answer | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        values = r.values.replace("|", "\\|").replace("\\n", "\\\\n")
        rows.append(
            f"| {r.names} | `{values}` | {mark[r.refused]} | {mark[r.named]} | {mark[r.no_secret]} "
            f"| {mark[r.unchanged]} | {mark[r.answering]} | {r.seconds} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--host", required=True, help="the sandbox host (converged, in every group)")
    parser.add_argument("--secrets", type=Path, required=True, help="group_vars holding the passwords")
    parser.add_argument("--cases", type=Path, default=HERE / "cases.yml")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    cases = yaml.safe_load(args.cases.read_text())
    files = sorted(args.secrets.rglob("*.yml"))
    known = [s for f in files for s in secrets_in(yaml.safe_load(f.read_text()))]
    before = on_host(args.host, FINGERPRINT)
    if "redis.conf" not in before or "ActiveState=active" not in before:
        sys.exit(f"the host does not look converged:\n{before}")
    args.address = on_host(args.host, "hostname -I").split()[0]
    answered = answers(args.host, args.address)
    if not all(a in answered for a in EXPECTED_ANSWERS):
        sys.exit(f"the services do not answer before the cases: {answered!r}")
    results = []
    for n, case in enumerate(cases, 1):
        result = run_case(case, args, before, known)
        print(
            f"[{n}/{len(cases)}] {'ok' if result.ok else 'FAILED'} {case['names']} {result.seconds} s "
            f"{'; '.join(result.notes)}",
            flush=True,
        )
        results.append(result)
    report = table(results)
    refused = sum(r.refused and r.unchanged for r in results)
    passed = sum(r.ok for r in results)
    summary = f"{len(results)} bad inputs, {refused} refused before any change, {passed} passed every check\n"
    print(report + summary)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report + "\n" + summary)
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    main()
