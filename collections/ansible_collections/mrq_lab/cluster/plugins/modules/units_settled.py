"""Wait until systemd units have settled; fail naming a crash-looping one, with its journal."""

from __future__ import annotations

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mrq_lab.cluster.plugins.module_utils.settle import (
    PROPERTIES,
    parse_show,
    problem,
    settled,
)

DOCUMENTATION = r"""
module: units_settled
short_description: Wait until systemd units are up and stay up
description:
  - Passes once every unit has been active for I(settle) seconds without a
    restart (at once for units up that long already, so an unchanged host
    costs one C(systemctl show)).
  - Fails as soon as systemd restarts a unit (a crash loop), or a unit is
    failed, inactive or not installed, or is not settled after I(timeout)
    seconds; the message names the unit and shows the last lines of its journal.
options:
  units: {description: Unit names, type: list, elements: str, required: true}
  settle: {description: Seconds a unit must stay active, type: float, default: 10}
  settle_each:
    description:
      - Seconds for the units named here instead of I(settle). All units are
        watched until the last has settled, whatever their own window.
    type: dict
    default: {}
  timeout: {description: Seconds to wait for all units in all, type: float, default: 90}
  journal_lines: {description: Journal lines shown per failing unit, type: int, default: 20}
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "str", "required": True},
            "settle": {"type": "float", "default": 10},
            "settle_each": {"type": "dict", "default": {}},
            "timeout": {"type": "float", "default": 90},
            "journal_lines": {"type": "int", "default": 20},
        },
        supports_check_mode=True,
    )
    units = module.params["units"]
    if not units:
        module.exit_json(changed=False, units={})
    systemctl = module.get_bin_path("systemctl", required=True)
    journalctl = module.get_bin_path("journalctl", required=True)

    def sample() -> dict[str, dict[str, str]]:
        _, out, _ = module.run_command(
            [systemctl, "show", "--property=" + ",".join(PROPERTIES), *units], check_rc=True
        )
        return dict(zip(units, parse_show(out)))

    def journal(unit: str) -> str:
        _, out, _ = module.run_command(
            [
                journalctl,
                "--unit",
                unit,
                "--lines",
                str(module.params["journal_lines"]),
                "--no-pager",
                "--output",
                "cat",
            ]
        )
        return out.rstrip()

    def window(unit: str) -> float:
        return float(module.params["settle_each"].get(unit, module.params["settle"]))

    start = time.monotonic()
    first = sample()
    while True:
        now = sample()
        clock_us = int(time.monotonic() * 1_000_000)
        bad = {unit: why for unit in units if (why := problem(first[unit], now[unit]))}
        waiting = [unit for unit in units if not settled(now[unit], clock_us, window(unit))]
        if not bad and not waiting:
            module.exit_json(changed=False, units=now, seconds=round(time.monotonic() - start, 1))
        if not bad and time.monotonic() - start > module.params["timeout"]:
            bad = {
                unit: f"is {now[unit].get('ActiveState')} ({now[unit].get('SubState')}), "
                f"not up for {window(unit):g} s after {module.params['timeout']:g} s"
                for unit in waiting
            }
        if bad:
            report = "\n\n".join(
                f"{unit} {why}; its last journal lines:\n{journal(unit)}" for unit, why in bad.items()
            )
            module.fail_json(msg=report, units=now)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
