"""Unit tests of the sandbox tool's pure parts (no root, no hosts needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("sandbox", Path(__file__).with_name("sandbox.py"))
assert _spec and _spec.loader
sandbox = importlib.util.module_from_spec(_spec)
sys.modules["sandbox"] = sandbox
_spec.loader.exec_module(sandbox)


def test_allocate_ip_takes_first_free_from_first_host_offset() -> None:
    assert sandbox.allocate_ip(set()) == "10.231.7.10"
    assert sandbox.allocate_ip({"10.231.7.10", "10.231.7.11"}) == "10.231.7.12"
    assert sandbox.allocate_ip({"10.231.7.11"}) == "10.231.7.10"


def test_allocate_ip_fails_when_bridge_is_full() -> None:
    used = {str(sandbox.SUBNET.network_address + i) for i in range(256)}
    with pytest.raises(SystemExit):
        sandbox.allocate_ip(used)


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("web-1", ("web-1", None)), ("db=10.231.7.100", ("db", "10.231.7.100"))],
)
def test_parse_host_arg_accepts_names_and_pinned_addresses(arg: str, expected: tuple) -> None:
    assert sandbox.parse_host_arg(arg) == expected


@pytest.mark.parametrize(
    "arg",
    ["bad_name", "x" * 41, "h=10.9.9.9", "h=10.231.7.1", "h=10.231.7.5", "h=not-an-ip", "../etc"],
)
def test_parse_host_arg_rejects_bad_input(arg: str) -> None:
    with pytest.raises(SystemExit):
        sandbox.parse_host_arg(arg)


def test_hosts_file_lists_controller_and_every_host() -> None:
    hosts = [sandbox.Host("b", "10.231.7.11", 1, "/img"), sandbox.Host("a", "10.231.7.10", 2, "/img")]
    lines = sandbox.hosts_file(hosts).splitlines()
    assert "10.231.7.1 controller" in lines
    assert lines[-2:] == ["10.231.7.10 a", "10.231.7.11 b"]


def test_recipe_hash_changes_with_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    before = sandbox.recipe_hash()
    assert sandbox.recipe_hash() == before
    monkeypatch.setattr(sandbox, "PACKAGES", sandbox.PACKAGES + ",curl")
    assert sandbox.recipe_hash() != before
