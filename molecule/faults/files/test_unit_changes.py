"""The faults scenario's unit-change helper tells restarts, starts and stops apart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("unit_changes", Path(__file__).with_name("unit_changes.py"))
assert _spec and _spec.loader
unit_changes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unit_changes)


def test_restarted_started_and_stopped_per_host() -> None:
    before = {
        "w1": "mrq-worker@faults.service aaa\nmrq-worker@poison.service bbb\n",
        "w2": "mrq-worker@faults.service ccc\n",
        "srv": "redis-server.service ddd\n",
    }
    after = {
        "w1": "mrq-worker@faults.service aa2\nmrq-worker@poison.service bbb\nmrq-worker@extra.service eee\n",
        "w2": "",
        "srv": "redis-server.service ddd\n",
    }
    assert unit_changes.changes(before, after) == {
        "restarted": ["w1 mrq-worker@faults"],
        "started": ["w1 mrq-worker@extra"],
        "stopped": ["w2 mrq-worker@faults"],
    }


def test_nothing_changed() -> None:
    snap = {"w1": "mrq-worker@faults.service aaa\n"}
    assert unit_changes.changes(snap, snap) == {"restarted": [], "started": [], "stopped": []}
