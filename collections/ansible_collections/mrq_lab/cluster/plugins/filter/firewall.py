"""Filters for the firewall (roles/firewall):

  {{ mrq_hosts | mrq_lab.cluster.addresses_of(hostvars) }}  -> every address of those hosts
  {{ firewall_openings | mrq_lab.cluster.nft_ruleset }}     -> the nftables script of the table

Logic and tests: plugins/module_utils/firewall.py, tests/unit/.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible.errors import AnsibleFilterError
from ansible_collections.mrq_lab.cluster.plugins.module_utils import firewall


def _filter_error(func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except firewall.FirewallError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    wrapped.__name__ = func.__name__
    wrapped.__doc__ = func.__doc__
    return wrapped


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "addresses_of": _filter_error(firewall.addresses_of),
            "nft_ruleset": _filter_error(firewall.ruleset),
        }
