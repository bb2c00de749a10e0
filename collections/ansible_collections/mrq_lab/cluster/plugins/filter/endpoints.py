"""Filters for the contract between the server roles and their clients.

  {{ redis_endpoint | mrq_lab.cluster.client_address(inventory_hostname) }}
  {{ endpoint.users | mrq_lab.cluster.user_for('mrq') }}
  {{ ansible_facts | mrq_lab.cluster.release }}           -> "Debian 12"
  {{ mrq_dashboard_bind | mrq_lab.cluster.local_url_host }} -> "127.0.0.1" for 0.0.0.0
  {{ mongodb_users | mrq_lab.cluster.with_password(mongodb_mrq_password) }}

Logic and tests: plugins/module_utils/endpoints.py, tests/unit/.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.mrq_lab.cluster.plugins.module_utils import endpoints
from ansible_collections.mrq_lab.cluster.plugins.module_utils.filter_errors import as_filter


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "client_address": as_filter(endpoints.client_address, endpoints.EndpointError),
            "user_for": as_filter(endpoints.select_user, endpoints.EndpointError),
            "release": endpoints.release,
            "local_url_host": endpoints.local_url_host,
            "with_password": endpoints.with_password,
        }
