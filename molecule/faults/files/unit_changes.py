"""TEST-ONLY helper of the faults scenario: which units a step restarted,
started or stopped, from two snapshots of `unit invocation-id` lines per host
(the active units, before and after the step).

  stdin:  {"before": {"fault-w1": "mrq-worker@faults.service 3f2a...\\n...", ...},
           "after": {...}}
  stdout: {"restarted": ["fault-w1 mrq-worker@faults"], "started": [...], "stopped": [...]}
"""

from __future__ import annotations

import json
import sys


def active(snapshot: str) -> dict[str, str]:
    units = {}
    for line in snapshot.splitlines():
        unit, _, invocation = line.strip().partition(" ")
        if unit:
            units[unit.removesuffix(".service")] = invocation
    return units


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"restarted": [], "started": [], "stopped": []}
    for host in sorted(set(before) | set(after)):
        old, new = active(before.get(host, "")), active(after.get(host, ""))
        out["restarted"] += [f"{host} {u}" for u in sorted(old) if u in new and new[u] != old[u]]
        out["started"] += [f"{host} {u}" for u in sorted(new) if u not in old]
        out["stopped"] += [f"{host} {u}" for u in sorted(old) if u not in new]
    return out


if __name__ == "__main__":
    snapshots = json.load(sys.stdin)
    print(json.dumps(changes(snapshots["before"], snapshots["after"])))
