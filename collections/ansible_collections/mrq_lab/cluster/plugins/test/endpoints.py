"""Tests on addresses and hosts, parsed (never matched as text):

  {{ mrq_dashboard_bind is mrq_lab.cluster.loopback }}
  {{ mongodb_bind | select('mrq_lab.cluster.wildcard') }}
  {{ ansible_facts is mrq_lab.cluster.shared_kernel }}
  {{ redis_endpoint is mrq_lab.cluster.reachable_from(inventory_hostname) }}
  {{ redis_endpoint.tls.cert is mrq_lab.cluster.certificate_for('10.0.10.10') }}

Logic and tests: plugins/module_utils/endpoints.py, tests/unit/.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.mrq_lab.cluster.plugins.module_utils import endpoints, tls


class TestModule:
    def tests(self) -> dict[str, Callable[..., Any]]:
        return {
            "loopback": endpoints.is_loopback,
            "wildcard": endpoints.is_wildcard,
            "shared_kernel": endpoints.shared_kernel,
            "reachable_from": endpoints.reachable_from,
            "certificate_for": tls.covers,
        }
