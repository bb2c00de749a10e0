"""Has a systemd unit settled: active, and up for long enough without a restart?

Samples are `systemctl show` property maps. A unit passes once it has been
active for `settle` seconds with no restart since the first sample; it fails as
soon as systemd restarts it (NRestarts grows: a crash loop), it was started
again, or it is failed, inactive or not installed.
"""

from __future__ import annotations

from collections.abc import Mapping

PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "NRestarts",
    "ActiveEnterTimestampMonotonic",
)


def parse_show(text: str) -> list[dict[str, str]]:
    """`systemctl show -p ... UNIT...` output -> one property map per unit, in order."""
    units: list[dict[str, str]] = []
    for block in text.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props:
            units.append(props)
    return units


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def problem(first: Mapping[str, str], now: Mapping[str, str]) -> str | None:
    """Why the unit is unhealthy, comparing `now` with the `first` sample; None if not (yet)."""
    if now.get("LoadState") == "not-found":
        return "is not installed"
    restarts = _int(now.get("NRestarts")) - _int(first.get("NRestarts"))
    if restarts > 0:
        return f"was restarted {restarts} time(s) by systemd while watched (crash loop)"
    state = now.get("ActiveState")
    if state in ("failed", "inactive"):
        return f"is {state} ({now.get('SubState')}, result {now.get('Result')})"
    entered = _int(first.get("ActiveEnterTimestampMonotonic"))
    if first.get("ActiveState") == "active" and _int(now.get("ActiveEnterTimestampMonotonic")) != entered:
        return "was stopped and started again while watched"
    return None


def settled(now: Mapping[str, str], clock_us: int, settle_s: float) -> bool:
    """Active for at least `settle_s` seconds at monotonic time `clock_us`."""
    if now.get("ActiveState") != "active":
        return False
    return clock_us - _int(now.get("ActiveEnterTimestampMonotonic")) >= settle_s * 1_000_000
