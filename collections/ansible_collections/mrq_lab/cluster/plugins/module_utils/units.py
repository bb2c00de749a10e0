"""What to start and what to stop among a host's MRQ units.

Input: the units `community.general.systemd_info` reports for `mrq-*` (keyed by
unit name, with activestate and unitfilestate) and the units the host should
run. A worker group `G` is the instance `mrq-worker@G` of the template unit (its
settings in `<config_dir>/workers/G.env`); the dashboard and the scheduler are
plain units, and the dashboard's socket (mrq_dashboard_tls) is `mrq-dashboard.socket`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

UNIT_DIR = "/etc/systemd/system"
WORKER = "mrq-worker@"
# The units of roles/mrq: other `mrq-*` units (mrq-lab-firewall, yours) are not its own.
OWN = frozenset({"mrq-dashboard", "mrq-dashboard.socket", "mrq-scheduler"})


def _unit(name: str) -> str:
    return name[: -len(".service")] if name.endswith(".service") else name


def _file(unit: str) -> str:
    return f"{UNIT_DIR}/{unit}" if unit.endswith(".socket") else f"{UNIT_DIR}/{unit}.service"


def _stop_order(unit: str) -> tuple[bool, str]:
    # A socket first: stopped after its service, it could start it again.
    return (not unit.endswith(".socket"), unit)


def unit_plan(
    present: Mapping[str, Mapping[str, Any]], wanted: Iterable[str], config_dir: str
) -> dict[str, list[str]]:
    """The plan, as lists of unit names (and paths for "remove"):

    running: wanted units active now (a change restarts them);
    start: wanted units not active or not enabled;
    stop: units active or enabled that the host no longer runs;
    remove: the files of those units.
    """
    wanted = list(wanted)
    state = {
        _unit(name): info for name, info in present.items() if _unit(name) in OWN or name.startswith(WORKER)
    }
    running = [unit for unit in wanted if state.get(unit, {}).get("activestate") == "active"]
    start = [
        unit
        for unit in wanted
        if state.get(unit, {}).get("activestate") != "active"
        or state.get(unit, {}).get("unitfilestate") != "enabled"
    ]
    stop = [
        unit
        for unit, info in sorted(state.items(), key=lambda item: _stop_order(item[0]))
        if unit not in wanted
        and (
            info.get("activestate") in ("active", "activating", "failed")
            or info.get("unitfilestate") == "enabled"
        )
    ]
    remove = [_file(unit) for unit in stop if not unit.startswith(WORKER)]
    remove += [f"{config_dir}/workers/{unit[len(WORKER) :]}.env" for unit in stop if unit.startswith(WORKER)]
    if any(u.startswith(WORKER) for u in stop) and not any(u.startswith(WORKER) for u in wanted):
        remove += [f"{UNIT_DIR}/{WORKER}.service"]
    return {"running": running, "start": start, "stop": stop, "remove": remove}
