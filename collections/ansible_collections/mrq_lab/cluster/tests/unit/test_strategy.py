"""The mitogen_linear strategy leaves CPU placement to the kernel: Mitogen's own
policy would pin the controller, its workers and every process they start to
one CPU of a 2-CPU controller (its connection process takes the other)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ansible_mitogen = pytest.importorskip("ansible_mitogen.affinity")

CODE = """
import os, sys
import ansible_mitogen.affinity as affinity
sys.path.insert(0, sys.argv[2])  # as conftest.py does
if sys.argv[1] == "plugin":
    from ansible_collections.mrq_lab.cluster.plugins.strategy import mitogen_linear  # noqa: F401
affinity.policy.assign_controller()
affinity.policy.assign_worker()
affinity.policy.assign_subprocess()
print(sorted(os.sched_getaffinity(0)))
"""


def cpus_after(what: str) -> str:
    collections = str(Path(__file__).resolve().parents[5])
    res = subprocess.run([sys.executable, "-c", CODE, what, collections], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPUs")
def test_workers_and_what_they_start_keep_every_cpu():
    every = str(sorted(os.sched_getaffinity(0)))
    assert cpus_after("mitogen") != every  # Mitogen alone pins them
    assert cpus_after("plugin") == every
