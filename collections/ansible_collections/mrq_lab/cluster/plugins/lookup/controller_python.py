"""The controller's Python as "MAJOR.MINOR ARCH" (e.g. "3.11 x86_64").

  {{ lookup('mrq_lab.cluster.controller_python') }}

The wheelhouse is built by the Python running Ansible: hosts must match it.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from ansible.plugins.lookup import LookupBase

DOCUMENTATION = """
name: controller_python
short_description: the controller's Python version and architecture
description: Returns one string, "MAJOR.MINOR ARCH", of the Python running Ansible.
"""


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        return [f"{sys.version_info.major}.{sys.version_info.minor} {platform.machine()}"]
