"""Filters for the contract between the server roles and their clients.

  {{ redis_endpoint | mrq_lab.cluster.client_address(inventory_hostname) }}
  {{ endpoint.users | mrq_lab.cluster.user_for('mrq') }}
  {{ ansible_facts | mrq_lab.cluster.release }}           -> "Debian 12"
  {{ mrq_dashboard_bind | mrq_lab.cluster.local_url_host }} -> "127.0.0.1" for 0.0.0.0
  {{ mongodb_users | mrq_lab.cluster.with_password(mongodb_mrq_password) }}
  {{ {'ca': ca_pem, 'cert': cert_pem} | mrq_lab.cluster.strict_tls_problems('redis_tls') }}

Logic and tests: plugins/module_utils/endpoints.py and tls.py, tests/unit/.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.mrq_lab.cluster.plugins.module_utils import endpoints, tls
from ansible_collections.mrq_lab.cluster.plugins.module_utils.filter_errors import as_filter


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "client_address": as_filter(endpoints.client_address, endpoints.EndpointError),
            "user_for": as_filter(endpoints.select_user, endpoints.EndpointError),
            "release": endpoints.release,
            "local_url_host": endpoints.local_url_host,
            "with_password": endpoints.with_password,
            "strict_tls_problems": strict_tls_problems,
        }


def strict_tls_problems(pems: dict[str, Any], prefix: str) -> list[str]:
    """tls.strict_problems of {'ca': PEM, 'cert': PEM} (an endpoint's tls)."""
    return tls.strict_problems(prefix, pems.get("ca", ""), pems.get("cert", ""))
