#!/usr/bin/env python3
"""Runs the bad-input table (cases.yml) against a converged sandbox host.

Every case goes through playbook.yml's first play (the checks every run makes
before any change), all in one ansible-playbook run: the play's own tasks,
read from playbook.yml, once per case in a block with the case's values as
block vars, a rescue recording the failure. Each must fail, name the variable
and show no password (the case's own nor the inventory's). The cases marked
`whole: true` also run as `ansible-playbook -i INVENTORY playbook.yml -e
@case.json`, each on its own: the whole playbook must stop in that first play.
After the one run and after each whole run, the host's configuration files
and units must be byte-identical to before, every service still active and
not restarted, and Redis and the dashboard must still answer. The TLS cases
use `bad_pki` (extra vars): a throw-away CA's certificate for 127.0.0.1, its
key and another certificate's key (tests/pki.py). Prints a table (also written
to --report) and exits 1 if any case fails.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
sys.path.insert(0, str(PROJECT / "tests"))
from pki import make_ca, make_cert  # noqa: E402

SANDBOX = PROJECT / "tests/sandbox/sandbox.py"
SECRET_KEYS = ("password", "requirepass")
# What a refused run must leave as it was, and how to read it on the host.
FINGERPRINT = (
    "sha256sum /etc/redis/redis.conf /etc/redis/auth.conf /etc/mongod.conf"
    " /etc/mrq/mrq-config.py /etc/mrq/workers/*.env /etc/systemd/system/mrq-*.service"
    " /etc/mrq-lab/firewall.nft;"
    " systemctl show -p Id -p ActiveState -p ActiveEnterTimestampMonotonic"
    " redis-server mongod mrq-dashboard mrq-scheduler 'mrq-worker@*'"
)
# Services answer: Redis refuses an unauthenticated PING (it is up), mongod
# accepts a TCP connection, the dashboard (on the host's loopback) wants credentials.
ANSWERS = (
    "redis-cli -h 127.0.0.1 PING; timeout 5 bash -c '</dev/tcp/127.0.0.1/27017' && echo mongod-accepts;"
    " python3 -c 'import urllib.request as r, urllib.error as e\n"
    'try: r.urlopen("http://127.0.0.1:5555/", timeout=10); print("dashboard-200")\n'
    'except e.HTTPError as x: print("dashboard-%d" % x.code)\n'
    """except OSError as x: print("dashboard-%s" % x)'"""
)
EXPECTED_ANSWERS = ("NOAUTH", "mongod-accepts", "dashboard-401")


@dataclass
class Result:
    names: str
    values: str
    how: str
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


def on_host(host: str, script: str) -> str:
    res = subprocess.run(
        [sys.executable, str(SANDBOX), "ssh", host, script], capture_output=True, text=True, timeout=60
    )
    return res.stdout + res.stderr


def check_output(result: Result, case: dict[str, Any], output: str, failure: str, known: list[str]) -> None:
    """`failure`: what the run said about the case's failure; `output`: all it printed."""
    result.named = case["names"] in failure
    leaked = [s for s in secrets_in(case["vars"]) + known if s in output or s in failure]
    result.no_secret = not leaked
    if not result.refused:
        result.notes.append("the run succeeded")
    if not result.named:
        result.notes.append(f"not named in: {failure[-300:]}")
    if leaked:
        result.notes.append("a password is shown in the output")


def check_host(results: list[Result], args: argparse.Namespace, before: str) -> None:
    unchanged = on_host(args.host, FINGERPRINT) == before
    answered = on_host(args.host, ANSWERS)
    answering = all(a in answered for a in EXPECTED_ANSWERS)
    for result in results:
        result.unchanged, result.answering = unchanged, answering
        if not unchanged:
            result.notes.append("the host changed")
        if not answering:
            result.notes.append(f"answers: {answered.strip()!r}")


def ansible_playbook(args: argparse.Namespace, playbook: Path, *extra: str) -> tuple[int, str, float]:
    t0 = time.monotonic()
    res = subprocess.run(
        ["ansible-playbook", "-i", args.inventory, str(playbook), "-e", f"@{args.pki_vars}", *extra],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=PROJECT,
    )
    return res.returncode, res.stdout + res.stderr, round(time.monotonic() - t0, 1)


def checks_playbook(cases: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """playbook.yml's first play, its tasks once per case (block vars: the case's
    values); the outcome of each case is written to `out` (JSON, on the controller)."""
    first = yaml.safe_load((PROJECT / "playbook.yml").read_text())[0]
    record = "{{ bad_inputs | default({}) | combine({'%d': %s}) }}"
    tasks: list[dict[str, Any]] = []
    for n, case in enumerate(cases):
        accepted = {"ansible.builtin.set_fact": {"bad_inputs": record % (n, "none")}}
        refused = {
            "ansible.builtin.set_fact": {"bad_inputs": record % (n, "ansible_failed_result | to_json")}
        }
        tasks.append(
            {
                "name": f"Bad input {n}: {case['names']}",
                "vars": case["vars"],
                "block": [*first["tasks"], {"name": f"Bad input {n} accepted", **accepted}],
                "rescue": [{"name": f"Bad input {n} refused", **refused}],
            }
        )
    tasks.append(
        {
            "name": "Write the outcomes",
            "ansible.builtin.copy": {
                "content": "{{ bad_inputs | to_json }}",
                "dest": str(out),
                "mode": "0600",
            },
            "delegate_to": "localhost",
            "no_log": True,
        }
    )
    play = {k: v for k, v in first.items() if k != "tasks"}
    return [{**play, "name": "The bad inputs through playbook.yml's first play", "tasks": tasks}]


def run_first_play(cases: list[dict[str, Any]], args: argparse.Namespace, known: list[str]) -> list[Result]:
    results = [Result(c["names"], json.dumps(c["vars"]), how="first play") for c in cases]
    with tempfile.TemporaryDirectory(dir=PROJECT, prefix=".bad-inputs-") as tmp:
        playbook, out = Path(tmp, "checks.yml"), Path(tmp, "outcomes.json")
        playbook.write_text(yaml.safe_dump(checks_playbook(cases, out), sort_keys=False))
        rc, output, seconds = ansible_playbook(args, playbook)
        outcomes = json.loads(out.read_text()) if out.exists() else {}
    if rc != 0 or len(outcomes) != len(cases):
        sys.exit(f"the run of playbook.yml's first play failed (rc={rc}):\n{output[-3000:]}")
    for n, (case, result) in enumerate(zip(cases, results)):
        failure = outcomes[str(n)]
        result.refused = failure is not None
        result.seconds = round(seconds / len(cases), 1)
        check_output(result, case, output, failure or "", known)
    return results


def run_whole(case: dict[str, Any], args: argparse.Namespace, before: str, known: list[str]) -> Result:
    result = Result(case["names"], json.dumps(case["vars"]), how="playbook.yml -e")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as extra:
        json.dump(case["vars"], extra)
        extra.flush()
        rc, output, result.seconds = ansible_playbook(args, PROJECT / "playbook.yml", "-e", f"@{extra.name}")
    result.refused = rc != 0
    failed = [line for line in output.splitlines() if "fatal:" in line or '"msg"' in line or "ERROR" in line]
    check_output(result, case, output, output, known)
    if not result.named:
        result.notes.append(f"failures: {' | '.join(failed[-3:])[:300]}")
    check_host([result], args, before)
    return result


def bad_pki(directory: Path) -> dict[str, str]:
    """The TLS cases' PEM texts: a certificate for 127.0.0.1, its key, another's key."""
    ca = make_ca(directory / "ca")
    crt, key = make_cert(ca, directory / "one", ["127.0.0.1"])
    _, other_key = make_cert(ca, directory / "two", ["127.0.0.1"])
    return {"crt": crt.read_text(), "key": key.read_text(), "other_key": other_key.read_text()}


def table(results: list[Result]) -> str:
    mark = {True: "yes", False: "**NO**"}
    rows = [
        "| variable | values | run | refused | named | no password shown | host unchanged | services answer"
        " | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        values = r.values.replace("|", "\\|").replace("\\n", "\\\\n")
        rows.append(
            f"| {r.names} | `{values}` | {r.how} | {mark[r.refused]} | {mark[r.named]} | {mark[r.no_secret]} "
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
    for case in cases:  # as -e @file.json gives them: JSON values (no YAML-only types)
        case["vars"] = json.loads(json.dumps(case["vars"]))
    files = sorted(args.secrets.rglob("*.yml"))
    known = [s for f in files for s in secrets_in(yaml.safe_load(f.read_text()))]
    before = on_host(args.host, FINGERPRINT)
    if "redis.conf" not in before or "ActiveState=active" not in before:
        sys.exit(f"the host does not look converged:\n{before}")
    answered = on_host(args.host, ANSWERS)
    if not all(a in answered for a in EXPECTED_ANSWERS):
        sys.exit(f"the services do not answer before the cases: {answered!r}")
    with tempfile.TemporaryDirectory(prefix="bad-inputs-pki-") as tmp:
        args.pki_vars = Path(tmp, "bad_pki.json")
        args.pki_vars.write_text(json.dumps({"bad_pki": bad_pki(Path(tmp))}))
        print(f"{len(cases)} cases through playbook.yml's first play, in one run", flush=True)
        results = run_first_play(cases, args, known)
        check_host(results, args, before)
        whole = [c for c in cases if c.get("whole")]
        for n, case in enumerate(whole, 1):
            result = run_whole(case, args, before, known)
            print(f"[{n}/{len(whole)}] whole playbook.yml: {case['names']} {result.seconds} s", flush=True)
            results.append(result)
    for result in results:
        if not result.ok:
            print(f"FAILED {result.names} ({result.how}): {'; '.join(result.notes)}", flush=True)
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
