"""The MRQ units a host starts and stops:

  {{ systemd_info.units | mrq_lab.cluster.unit_plan(wanted_units, mrq_config_dir) }}

Logic and tests: plugins/module_utils/units.py, tests/unit/test_units.py.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.mrq_lab.cluster.plugins.module_utils.units import unit_plan


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"unit_plan": unit_plan}
