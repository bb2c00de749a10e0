"""Ansible's `linear` strategy run through Mitogen, when it is installed.

Mitogen (requirements.txt) keeps one Python interpreter per host alive for the
whole run instead of starting one per task over SSH: the same tasks, about half
the wall time here (README, "Measured here"). Without Mitogen on the controller
this is plain `linear`, with a warning. ANSIBLE_STRATEGY=linear turns it off.
"""

from __future__ import annotations

from ansible.plugins.loader import strategy_loader
from ansible.utils.display import Display

DOCUMENTATION = """
name: mitogen_linear
short_description: linear, through Mitogen when it is installed
description:
  - Runs every task as the builtin linear strategy does. With the mitogen
    package installed, connections and module runs go through Mitogen.
author: mrq-lab
"""

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError:  # the controller has no Mitogen: plain linear
    Display().warning(
        "mrq_lab.cluster.mitogen_linear: mitogen is not installed; running the linear strategy."
    )
    StrategyModule = strategy_loader.get("ansible.builtin.linear", class_only=True)
else:
    import ansible_mitogen.affinity

    # Mitogen pins its connection process to one CPU and the controller, its
    # workers and every process they start (local commands, builds) to the
    # others: on a 2-CPU controller, everything but the connection process shares
    # one CPU. The kernel places them better (README, "Measured here").
    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

    _Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)

    class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):  # type: ignore[misc,valid-type]
        pass
