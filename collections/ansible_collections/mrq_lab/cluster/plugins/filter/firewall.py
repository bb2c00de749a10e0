"""Filters for the firewall (roles/firewall):

  {{ mrq_hosts | mrq_lab.cluster.addresses_of(hostvars) }}  -> every address of those hosts
  {{ firewall_openings | mrq_lab.cluster.nft_ruleset }}     -> the nftables script of the table

Logic and tests: plugins/module_utils/firewall.py, tests/unit/.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.mrq_lab.cluster.plugins.module_utils import firewall
from ansible_collections.mrq_lab.cluster.plugins.module_utils.filter_errors import as_filter


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "addresses_of": as_filter(firewall.addresses_of, firewall.FirewallError),
            "nft_ruleset": as_filter(firewall.ruleset, firewall.FirewallError),
            "nft_allowed": as_filter(firewall.allowed, firewall.FirewallError),
        }
