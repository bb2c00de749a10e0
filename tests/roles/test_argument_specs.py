"""Each role's meta/argument_specs.yml is the documented source of its variables;
defaults/main.yml must hold exactly the same defaults (and templates the same
defaults for list items), so the two never drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "meta/argument_specs.yml").exists())


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def spec(role: str) -> dict:
    return load(ROLES / role / "meta/argument_specs.yml")["argument_specs"]["main"]["options"]


def test_every_role_has_a_spec():
    assert ROLE_NAMES == ["firewall", "mongodb", "mrq", "redis"]


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_defaults_file_and_spec_hold_the_same_defaults(role):
    options = spec(role)
    defaults = load(ROLES / role / "defaults/main.yml")
    with_default = {name: opt["default"] for name, opt in options.items() if "default" in opt}
    assert defaults == with_default


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_option_is_documented_and_prefixed(role):
    for name, opt in spec(role).items():
        assert name.startswith(f"{role}_"), name
        assert opt.get("description"), f"{name} has no description"
        assert "type" in opt, f"{name} has no type"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_required_options_have_no_default(role):
    for name, opt in spec(role).items():
        assert not (opt.get("required") and "default" in opt), name


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_secrets_are_no_log(role):
    for name, opt in spec(role).items():
        if re.search(r"(requirepass|_password|_endpoint|_uri|_key)$", name):
            assert opt.get("no_log") is True, f"{name} must be no_log"


def test_worker_group_item_defaults_match_the_template():
    """Argument specs do not fill in list items' defaults: workers/group.env.j2 does,
    with the values the spec documents."""
    items = spec("mrq")["mrq_worker_groups"]["options"]
    template = (ROLES / "mrq/templates/etc/mrq/workers/group.env.j2").read_text()
    used = dict(re.findall(r"group\.(\w+) \| default\(([^)]*)\)", template))
    documented = {name: str(opt["default"]) for name, opt in items.items() if "default" in opt}
    assert used == documented


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_descriptions_hold_no_jinja(role):
    """Ansible templates the argument spec, descriptions too: a `{{ }}` example there
    would be evaluated on every run (and fail)."""
    for name, opt in spec(role).items():
        text = " ".join(opt["description"]) if isinstance(opt["description"], list) else opt["description"]
        assert "{{" not in text and "{%" not in text, name
