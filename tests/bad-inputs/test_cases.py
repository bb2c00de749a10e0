"""The bad-input table is well formed, and the runner finds the passwords it must not show."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bad_inputs_run", HERE / "run.py")
assert _spec and _spec.loader
run = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = run  # its dataclass looks itself up there
_spec.loader.exec_module(run)


def keys(tree: Any) -> set[str]:
    if isinstance(tree, dict):
        return {str(k) for k in tree} | {k for v in tree.values() for k in keys(v)}
    if isinstance(tree, list):
        return {k for v in tree for k in keys(v)}
    return set()


def test_at_least_40_cases_each_naming_a_variable_it_sets() -> None:
    cases = yaml.safe_load((HERE / "cases.yml").read_text())
    assert len(cases) >= 40
    for case in cases:
        assert {"names", "vars"} <= set(case) <= {"names", "vars", "whole"}, case
        assert any(case["names"] in k for k in keys(case["vars"])), case


def test_passwords_are_found_anywhere_in_a_vars_tree() -> None:
    tree = {
        "redis_requirepass": "top secret\n",
        "mongodb_users": [{"name": "mrq", "password": "nested pw"}],
        "redis_port": 1234,
        "mrq_dashboard_password": "",
    }
    assert set(run.secrets_in(tree)) == {"top secret\n", "top secret", "nested pw"}


def test_each_case_runs_the_first_play_tasks_of_playbook_yml_with_its_values(tmp_path: Path) -> None:
    cases = [{"names": "redis_port", "vars": {"redis_port": 0}}, {"names": "x", "vars": {"mrq_user": "root"}}]
    first = yaml.safe_load((run.PROJECT / "playbook.yml").read_text())[0]
    [play] = run.checks_playbook(cases, tmp_path / "out.json")
    assert play["hosts"] == first["hosts"] and play["gather_facts"] == first["gather_facts"]
    blocks, write = play["tasks"][:-1], play["tasks"][-1]
    assert [b["vars"] for b in blocks] == [c["vars"] for c in cases]
    for n, block in enumerate(blocks):
        assert block["block"][:-1] == first["tasks"]
        assert "'%d': none" % n in block["block"][-1]["ansible.builtin.set_fact"]["bad_inputs"]
        assert "ansible_failed_result" in block["rescue"][0]["ansible.builtin.set_fact"]["bad_inputs"]
    assert write["ansible.builtin.copy"]["dest"] == str(tmp_path / "out.json")
