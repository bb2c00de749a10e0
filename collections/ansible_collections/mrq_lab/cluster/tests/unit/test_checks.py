"""The roles' value checks: each bad value is refused, naming its variable and
never showing a secret; the roles' defaults (with passwords set) pass."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.checks import (
    ROLES,
    address_problem,
    host_addresses,
    password_problem,
)
from pki import make_ca, make_cert

HOST = ["10.231.7.10", "fe80::1"]
GOOD = "s3cure Pass:word#1"  # fine: spaces and punctuation are allowed

VALID: dict[str, dict[str, Any]] = {
    "redis": {
        "redis_requirepass": GOOD,
        "redis_mrq_password": "mrq " + GOOD,
        "redis_mrq_user": "mrq",
        "redis_mrq_acl": "~* &* +@all -@admin -@dangerous +keys +info -acl",
        "redis_bind": ["127.0.0.1", "10.231.7.10"],
        "redis_port": 6379,
        "redis_timeout": 0,
        "redis_databases": 16,
        "redis_save": ["3600 1", "300 100"],
        "redis_maxmemory": "256mb",
        "redis_rename_commands": {"FLUSHALL": ""},
        "redis_extra_config": {"latency-monitor-threshold": 100},
        "redis_allow": ["10.0.20.0/24", "fd00::/64", "10.0.30.7"],
    },
    "mongodb": {
        "mongodb_port": 27017,
        "mongodb_bind": ["127.0.0.1", "10.231.7.10"],
        "mongodb_authorization": True,
        "mongodb_admin_password": GOOD,
        "mongodb_users": [{"name": "mrq", "password": GOOD, "database": "mrq", "roles": ["readWrite"]}],
        "mongodb_db_path": "/var/lib/mongodb",
        "mongodb_log_path": "/var/log/mongodb/mongod.log",
        "mongodb_log_keep_days": 14,
        "mongodb_admin_user": "root",
        "mongodb_backup_dir": "/var/backups/mongodb",
        "mongodb_backup_user": "mongodb-backup",
        "mongodb_backup_schedule": "*-*-* 03:00:00",
        "mongodb_backup_keep": 7,
        "mongodb_backup_max_age_days": 14,
        "mongodb_extra_config": {"operationProfiling": {"slowOpThresholdMs": 200}},
        "mongodb_allow": [],
    },
    "mrq": {
        "mrq_user": "mrq",
        "mrq_dashboard_bind": "127.0.0.1",
        "mrq_dashboard_port": 5555,
        "mrq_dashboard_password": "",
        "mrq_scheduler_interval": 20,
        "mrq_scheduler_maintenance_interval": 60,
        "mrq_worker_stop_timeout": 60,
        "mrq_health_settle": 10,
        "mrq_job_timeout": 3600,
        "mrq_max_retries": 3,
        "mrq_requeue_within": 60,
        "mrq_success_ttl": 604800,
        "mrq_failed_ttl": 15552000,
        "mrq_scheduler_queues": ["task1", "task2"],
        "mrq_mongodb_database": "mrq",
        "mrq_worker_groups": [
            {"name": "task1", "queues": ["task1"], "greenlets": 5, "processes": 0},
            {
                "name": "fast",
                "queues": ["task1_raw", "task1_timed_set"],
                "greenlets": 50,
                "processes": "auto",
            },
            {"name": "defaults", "queues": ["task2"]},  # greenlets 20, processes 0
        ],
        "mrq_raw_queues": [
            {"name": "task1_raw", "task": "tasks_push.task1", "retry_queue": "task1", "store_jobs": False},
            {"name": "task1_timed_set", "task": "tasks_push.task1", "retry_queue": "task1", "param": "at"},
        ],
        "mrq_tasks": {"tasks_push.task1": {"timeout": 300, "max_retries": 5}},
        "mrq_dashboard_allow": ["192.168.1.0/24"],
    },
    "firewall": {
        "firewall_enabled": True,
        "firewall_openings": [{"name": "redis", "port": 6379, "allow": [], "allow_hosts": ["w1"]}],
        "groups": {"all": ["w1", "cache1"]},
    },
}


def raw(**settings: Any) -> dict[str, Any]:
    """A valid mrq_raw_queues entry, with `settings` changed."""
    return {"name": "task1_raw", "task": "tasks_push.task1", "retry_queue": "task1", **settings}


def problems(role: str, **overrides: Any) -> list[str]:
    return ROLES[role]({**VALID[role], **overrides}, HOST)


@pytest.mark.parametrize("role", sorted(VALID))
def test_valid_values_pass(role: str) -> None:
    assert problems(role) == []


NO_KEY = {"mongodb_tls_key": "not a key"}


@pytest.mark.parametrize(
    ("role", "overrides", "variable"),
    [
        ("redis", {"redis_port": 70000}, "redis_port"),
        ("redis", {"redis_port": 0}, "redis_port"),
        ("redis", {"redis_port": True}, "redis_port"),
        ("redis", {"redis_requirepass": GOOD + "\n"}, "redis_requirepass"),
        ("redis", {"redis_requirepass": "short"}, "redis_requirepass"),
        ("redis", {"redis_requirepass": "CHANGE-ME-CHANGE-ME"}, "redis_requirepass"),
        ("redis", {"redis_requirepass": "tab\there-and-more"}, "redis_requirepass"),
        ("redis", {"redis_mrq_password": GOOD}, "redis_mrq_password"),
        ("redis", {"redis_mrq_password": "short"}, "redis_mrq_password"),
        ("redis", {"redis_mrq_user": "default"}, "redis_mrq_user"),
        ("redis", {"redis_mrq_acl": "+@all\nuser x on"}, "redis_mrq_acl"),
        ("redis", {"redis_bind": ["10.99.99.99"]}, "redis_bind"),
        ("redis", {"redis_bind": ["127.attacker.example"]}, "redis_bind"),
        ("redis", {"redis_bind": []}, "redis_bind"),
        ("redis", {"redis_save": ["3600"]}, "redis_save"),
        ("redis", {"redis_save": ["0 1"]}, "redis_save"),
        ("redis", {"redis_databases": 0}, "redis_databases"),
        ("redis", {"redis_timeout": -1}, "redis_timeout"),
        ("redis", {"redis_maxmemory": "lots"}, "redis_maxmemory"),
        ("redis", {"redis_maxmemory": "-1"}, "redis_maxmemory"),
        ("redis", {"redis_extra_config": {"requirepass": "x"}}, "redis_extra_config"),
        ("redis", {"redis_extra_config": {"protected-mode": "no"}}, "redis_extra_config"),
        ("redis", {"redis_extra_config": {"Bind": "0.0.0.0"}}, "redis_extra_config"),
        ("redis", {"redis_extra_config": {"maxmemory-policy": "allkeys-lru"}}, "redis_extra_config"),
        ("redis", {"redis_extra_config": {"hz": "10\nrequirepass x"}}, "redis_extra_config"),
        ("redis", {"redis_extra_config": {"two words": 1}}, "redis_extra_config"),
        ("redis", {"redis_rename_commands": {"AUTH": ""}}, "redis_rename_commands"),
        ("redis", {"redis_rename_commands": {"CONFIG": "a b"}}, "redis_rename_commands"),
        ("mongodb", {"mongodb_port": 70000}, "mongodb_port"),
        ("mongodb", {"mongodb_bind": ["0.0.0.0"], "mongodb_authorization": False}, "mongodb_authorization"),
        ("mongodb", {"mongodb_bind": ["10.1.2.3"]}, "mongodb_bind"),
        ("mongodb", {"mongodb_bind": ["db.example"]}, "mongodb_bind"),
        ("mongodb", {"mongodb_admin_password": "CHANGE-ME-CHANGE-ME"}, "mongodb_admin_password"),
        (
            "mongodb",
            {"mongodb_users": [{"name": "mrq", "password": "x", "database": "mrq"}]},
            "mongodb_users['mrq'].password",
        ),
        (
            "mongodb",
            {"mongodb_mrq_password": "short", "mongodb_users": [{"name": "mrq", "database": "mrq"}]},
            "mongodb_mrq_password",
        ),
        ("mongodb", {"mongodb_users": [{"name": "mrq", "database": "mrq"}]}, "mongodb_mrq_password"),
        (
            "mongodb",
            {"mongodb_users": [{"name": "mrq", "password": GOOD, "database": "a b"}]},
            "mongodb_users['mrq'].database",
        ),
        (
            "mongodb",
            {"mongodb_extra_config": {"security": {"authorization": "disabled"}}},
            "mongodb_extra_config",
        ),
        ("mongodb", {"mongodb_extra_config": {"net": {"bindIpAll": True}}}, "mongodb_extra_config"),
        ("mongodb", {"mongodb_extra_config": {"storage": {"dbPath": "/tmp"}}}, "mongodb_extra_config"),
        ("mongodb", {"mongodb_db_path": "relative/db"}, "mongodb_db_path"),
        ("mongodb", {"mongodb_log_keep_days": 0}, "mongodb_log_keep_days"),
        ("mongodb", {"mongodb_backup_keep": 0}, "mongodb_backup_keep"),
        ("mongodb", {"mongodb_backup_max_age_days": "two weeks"}, "mongodb_backup_max_age_days"),
        ("mongodb", {"mongodb_backup_dir": "backups"}, "mongodb_backup_dir"),
        ("mongodb", {"mongodb_backup_dir": "/var/lib/mongodb/dumps"}, "mongodb_backup_dir"),
        ("mongodb", {"mongodb_backup_dir": "/var/backups"}, "mongodb_backup_dir"),
        ("mongodb", {"mongodb_backup_dir": "/"}, "mongodb_backup_dir"),
        ("mongodb", {"mongodb_backup_dir": "/home/ops/dumps"}, "mongodb_backup_dir"),
        ("mongodb", {"mongodb_backup_dir": "/etc/mongodb-dumps/"}, "mongodb_backup_dir"),
        ("mongodb", {"mongodb_backup_user": "root"}, "mongodb_backup_user"),
        ("mongodb", {"mongodb_backup_user": "mongodb"}, "mongodb_backup_user"),
        ("mongodb", {"mongodb_backup_schedule": "daily\nExecStart=/bin/sh"}, "mongodb_backup_schedule"),
        ("mrq", {"mrq_user": "root"}, "mrq_user"),
        ("mrq", {"mrq_user": "Bad User"}, "mrq_user"),
        ("mrq", {"mrq_dashboard_port": 80}, "mrq_dashboard_port"),
        ("mrq", {"mrq_dashboard_port": 65536}, "mrq_dashboard_port"),
        ("mrq", {"mrq_dashboard_bind": "10.9.9.9"}, "mrq_dashboard_bind"),
        ("mrq", {"mrq_dashboard_password": "CHANGE-ME-CHANGE-ME"}, "mrq_dashboard_password"),
        ("mrq", {"mrq_scheduler_interval": 0}, "mrq_scheduler_interval"),
        ("mrq", {"mrq_scheduler_maintenance_interval": -5}, "mrq_scheduler_maintenance_interval"),
        ("mrq", {"mrq_worker_stop_timeout": 0}, "mrq_worker_stop_timeout"),
        ("mrq", {"mrq_health_settle": 0}, "mrq_health_settle"),
        ("mrq", {"mrq_job_timeout": 0}, "mrq_job_timeout"),
        ("mrq", {"mrq_max_retries": -1}, "mrq_max_retries"),
        ("mrq", {"mrq_requeue_within": 30}, "mrq_requeue_within"),
        ("mrq", {"mrq_success_ttl": 0}, "mrq_success_ttl"),
        ("mrq", {"mrq_failed_ttl": "forever"}, "mrq_failed_ttl"),
        ("mrq", {"mrq_failed_ttl": 86400}, "mrq_failed_ttl"),
        ("mrq", {"mrq_scheduler_queues": ["a queue"]}, "mrq_scheduler_queues"),
        ("mrq", {"mrq_mongodb_database": "mrq.jobs"}, "mrq_mongodb_database"),
        (
            "mrq",
            {"mrq_worker_groups": [{"name": "w", "queues": [], "greenlets": 5, "processes": 0}]},
            "queues",
        ),
        (
            "mrq",
            {"mrq_worker_groups": [{"name": "w", "queues": ["q"], "greenlets": 0, "processes": 0}]},
            "greenlets",
        ),
        (
            "mrq",
            {"mrq_worker_groups": [{"name": "w", "queues": ["q"], "greenlets": 1, "processes": -3}]},
            "processes",
        ),
        (
            "mrq",
            {"mrq_worker_groups": [{"name": "a b", "queues": ["q"], "greenlets": 1, "processes": 0}]},
            "name",
        ),
        (
            "mrq",
            {"mrq_worker_groups": [{"name": "w", "queues": ["q"], "greenlets": 1, "processes": 0}] * 2},
            "twice",
        ),
        (
            "mrq",
            {"mrq_worker_groups": [{"name": "w", "queues": ["q"], "greenlets": 1, "processes": "all"}]},
            "processes",
        ),
        (
            "mrq",
            {
                "mrq_worker_groups": [
                    {"name": "w", "queues": ["undefined_raw"], "greenlets": 1, "processes": 0}
                ]
            },
            "mrq_raw_queues defines",
        ),
        ("mrq", {"mrq_worker_groups": [{"name": "w", "queues": ["q"], "greenlets": None}]}, "greenlets"),
        ("mrq", {"mrq_raw_queues": [raw(name="task1")]}, "ending in _raw"),
        ("mrq", {"mrq_raw_queues": [raw(name="a b_raw")]}, "ending in _raw"),
        ("mrq", {"mrq_raw_queues": [raw(), raw()]}, "twice"),
        ("mrq", {"mrq_raw_queues": [raw(task="task1")]}, ".task"),
        ("mrq", {"mrq_raw_queues": [raw(task="tasks_push.task1; rm")]}, ".task"),
        ("mrq", {"mrq_raw_queues": [raw(retry_queue="other_raw")]}, ".retry_queue"),
        ("mrq", {"mrq_raw_queues": [raw(retry_queue=None)]}, ".retry_queue"),
        ("mrq", {"mrq_raw_queues": [raw(param="a-b")]}, ".param"),
        ("mrq", {"mrq_raw_queues": [raw(store_jobs="no")]}, ".store_jobs"),
        ("mrq", {"mrq_raw_queues": [raw(statuses_no_storage=["started"])]}, "statuses_no_storage"),
        ("mrq", {"mrq_raw_queues": {"task1_raw": {}}}, "mrq_raw_queues"),
        ("mrq", {"mrq_tasks": {"t": {"timeout": 0}}}, "mrq_tasks['t'].timeout"),
        ("mrq", {"mrq_tasks": {"t": {"retries": 3}}}, "mrq_tasks['t'].retries"),
        ("redis", {"redis_allow": ["10.0.20.1/24"]}, "redis_allow"),
        (
            "redis",
            {"redis_tls": True, "redis_tls_ca_cert": "x", "redis_tls_cert": "y", "redis_tls_key": "z"},
            "redis_tls_cert",
        ),
        ("redis", {"redis_allow": "10.0.20.0/24"}, "redis_allow"),
        ("mongodb", {"mongodb_allow": ["admin.example.org"]}, "mongodb_allow"),
        (
            "mongodb",
            {"mongodb_tls": True, "mongodb_tls_ca_cert": "x", "mongodb_tls_cert": "y", **NO_KEY},
            "mongodb_tls_key",
        ),
        ("mongodb", {"mongodb_tls": False, "mongodb_tls_cert": "not checked when off"}, None),
        ("mongodb", {"mongodb_tls": "true", "mongodb_tls_cert": ""}, "mongodb_tls_cert"),  # -e gives a string
        ("redis", {"redis_tls": "yes", "redis_tls_cert": ""}, "redis_tls_cert"),
        ("mrq", {"mrq_dashboard_allow": ["0.0.0.0/0 "]}, None),
        ("mrq", {"mrq_dashboard_allow": ["192.168.1.0/33"]}, "mrq_dashboard_allow"),
        ("firewall", {"firewall_openings": [{"name": "redis", "port": 22, "allow": []}]}, "SSH"),
        ("firewall", {"ansible_port": "2222", "firewall_openings": [{"name": "r", "port": 2222}]}, "SSH"),
        ("firewall", {"firewall_openings": [{"name": "r", "port": 6379, "allow_hosts": ["w9"]}]}, "'w9'"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    role: str, overrides: dict[str, Any], variable: str
) -> None:
    found = problems(role, **overrides)
    if variable is None:  # allowed after all
        assert found == [], found
        return
    assert found, overrides
    assert any(variable in p for p in found), found
    for secret in (GOOD, "CHANGE-ME-CHANGE-ME", "tab\there"):
        assert all(secret not in p for p in found), found


def test_integers_given_as_strings_on_the_command_line() -> None:
    assert problems("redis", redis_port="6380") == []
    assert problems("redis", redis_port="70000") != []
    assert problems("redis", redis_port="63 79") != []


@pytest.mark.parametrize("value", [GOOD, "x" * 12, "a:b@c/d?e#f%g h"])
def test_passwords_allowed(value: str) -> None:
    assert password_problem(value) is None


@pytest.mark.parametrize(
    "value", [None, 12345678901234, "x" * 11, "é" * 12, GOOD + "\n", " " + GOOD, "my-Secret-1234"]
)
def test_passwords_refused(value: Any) -> None:
    assert password_problem(value)


@pytest.mark.parametrize(
    "entry", ["0.0.0.0", "::", "127.0.0.1", "::1", "localhost", "10.231.7.10", "fe80::1"]
)
def test_bindable(entry: str) -> None:
    assert address_problem(entry, HOST) is None


@pytest.mark.parametrize("entry", ["10.231.7.11", "127.attacker.example", "", "10.231.7.10/24", 42])
def test_not_bindable(entry: Any) -> None:
    assert address_problem(entry, HOST)


def test_host_addresses_from_facts() -> None:
    facts = {"all_ipv4_addresses": ["10.0.0.5"], "all_ipv6_addresses": ["fe80::5"]}
    assert host_addresses(facts) == ["10.0.0.5", "fe80::5"]


@pytest.fixture(scope="module")
def dashboard_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("pki")
    ca = make_ca(tmp / "ca")
    cert, key = make_cert(ca, tmp / "dashboard", [HOST[0], "dash.example.internal"])
    other, other_key = make_cert(ca, tmp / "other", ["10.231.7.99"])
    return {
        "chain": cert.read_text() + ca.cert.read_text(),  # the certificate, then its CA
        "key": key.read_text(),
        "other": other.read_text(),
        "other_key": other_key.read_text(),
    }


def dashboard_tls(pki: dict[str, str], cert: str, key: str, **overrides: Any) -> list[str]:
    tls = {"mrq_dashboard_tls_cert": pki.get(cert, ""), "mrq_dashboard_tls_key": pki.get(key, "")}
    on = {"mrq_dashboard_tls": True, "mrq_components": ["worker", "dashboard"], "mrq_dashboard_bind": HOST[0]}
    return problems("mrq", **{**on, **tls, **overrides})


@pytest.mark.parametrize("bind", [HOST[0], "0.0.0.0"])
def test_dashboard_tls_with_a_certificate_for_its_address_passes(dashboard_pki, bind: str) -> None:
    assert dashboard_tls(dashboard_pki, "chain", "key", mrq_dashboard_bind=bind) == []


@pytest.mark.parametrize(
    ("cert", "key", "problem"),
    [
        (None, "key", "mrq_dashboard_tls_cert: '' is not allowed; mrq_dashboard_tls needs it"),
        ("chain", None, "mrq_dashboard_tls_key: (value hidden) is not allowed; mrq_dashboard_tls needs it"),
        ("other", "other_key", "mrq_dashboard_tls_cert: names 10.231.7.99 (subjectAltName), not 10.231.7.10"),
        (
            "chain",
            "other_key",
            "mrq_dashboard_tls_key: (value hidden) is not the key of mrq_dashboard_tls_cert",
        ),
        ("key", "key", "mrq_dashboard_tls_cert: not a PEM certificate"),
    ],
)
def test_dashboard_tls_that_cannot_work_is_refused(dashboard_pki, cert, key, problem: str) -> None:
    found = dashboard_tls(dashboard_pki, cert, key)
    assert any(problem in p for p in found), found
    assert all("PRIVATE KEY" not in p for p in found), found


def test_dashboard_tls_given_on_the_command_line_is_checked(dashboard_pki) -> None:
    assert dashboard_tls(dashboard_pki, "other", "other_key", mrq_dashboard_tls="true") != []
    assert dashboard_tls(dashboard_pki, "other", "other_key", mrq_dashboard_tls="false") == []


def test_dashboard_tls_is_checked_on_the_dashboards_host_only(dashboard_pki) -> None:
    assert dashboard_tls(dashboard_pki, "other", "key", mrq_components=["worker"]) == []
    assert dashboard_tls(dashboard_pki, "other", "key", mrq_dashboard_tls=False) == []
