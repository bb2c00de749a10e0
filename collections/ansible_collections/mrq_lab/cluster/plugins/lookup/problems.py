"""Every problem with a role's variables, as the role sees them (defaults,
inventory, extra vars), checked against this host's own addresses:

  {{ query('mrq_lab.cluster.problems', 'redis') }}   ->  [] when all is well

Each problem names the variable, its bad value (never a secret's) and what is
allowed. The rules: plugins/module_utils/checks.py. Needs the host's network
facts (gather_subset network).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.mrq_lab.cluster.plugins.module_utils import checks

DOCUMENTATION = """
name: problems
short_description: the problems of a role's variables
description:
  - Returns a list of messages, empty when every variable of the role is allowed.
options:
  _terms:
    description: The role, one of redis, mongodb, mrq.
    required: true
"""


class TemplatedVars(Mapping[str, Any]):
    """The task's variables, each templated when a check reads it."""

    def __init__(self, variables: Mapping[str, Any], templar: Any) -> None:
        self.variables = variables
        self.templar = templar

    def __getitem__(self, name: str) -> Any:
        return self.templar.template(self.variables[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        if len(terms) != 1 or terms[0] not in checks.ROLES:
            raise AnsibleLookupError(f"one role is expected, one of {', '.join(checks.ROLES)}: got {terms}")
        values = TemplatedVars(variables or {}, self._templar)
        facts = values.get("ansible_facts") or {}
        if "all_ipv4_addresses" not in facts:
            raise AnsibleLookupError("the host's network facts are needed (gather_subset: network)")
        return checks.ROLES[terms[0]](values, checks.host_addresses(facts))
