"""The contract's address logic: what a client host connects to."""

from __future__ import annotations

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.endpoints import (
    EndpointError,
    client_address,
    is_loopback,
    is_wildcard,
    reachable_from,
    release,
    select_user,
    shared_kernel,
    with_password,
)


@pytest.mark.parametrize(
    "entry", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "-::1", "localhost", "::ffff:127.0.0.1"]
)
def test_loopback_addresses(entry):
    assert is_loopback(entry)


@pytest.mark.parametrize(
    "entry",
    ["10.0.0.1", "0.0.0.0", "::", "*", "127.attacker.example", "128.0.0.1", "::2", "localhost.example", ""],
)
def test_not_loopback(entry):
    assert not is_loopback(entry)


@pytest.mark.parametrize("entry", ["0.0.0.0", "::", "*", "-::*"])
def test_wildcards(entry):
    assert is_wildcard(entry)


@pytest.mark.parametrize("entry", ["127.0.0.1", "10.0.0.1", "0.0.0.1", "::1"])
def test_not_wildcards(entry):
    assert not is_wildcard(entry)


def endpoint(*binds, host="db1", address="10.0.0.20"):
    return {"host": host, "address": address, "bind": list(binds)}


@pytest.mark.parametrize(
    ("binds", "client", "expected"),
    [
        # same host: loopback first, whatever order
        (["10.0.0.20", "127.0.0.1"], "db1", "127.0.0.1"),
        (["::1"], "db1", "::1"),
        (["localhost"], "db1", "127.0.0.1"),
        (["0.0.0.0"], "db1", "127.0.0.1"),
        (["::"], "db1", "::1"),
        (["*", "-::*"], "db1", "127.0.0.1"),
        # same host, only a private address
        (["10.0.0.20"], "db1", "10.0.0.20"),
        # another host: the first private bind, never loopback
        (["127.0.0.1", "10.0.0.20", "10.0.1.20"], "app1", "10.0.0.20"),
        (["127.0.0.1", "fd00::20"], "app1", "fd00::20"),
        # another host, wildcard: the server host's address from the inventory
        (["0.0.0.0"], "app1", "10.0.0.20"),
        (["127.0.0.1", "::"], "app1", "10.0.0.20"),
    ],
)
def test_client_address(binds, client, expected):
    assert client_address(endpoint(*binds), client) == expected


def test_wildcard_without_address_uses_the_inventory_name():
    assert client_address(endpoint("0.0.0.0", address=None), "app1") == "db1"


@pytest.mark.parametrize("binds", [["127.0.0.1"], ["127.0.0.1", "::1"], ["localhost"]])
def test_remote_server_on_loopback_only_is_refused_with_the_reason(binds):
    with pytest.raises(EndpointError, match=r"db1 listens on loopback only .* app1 cannot reach it"):
        client_address(endpoint(*binds), "app1")


def test_reachable_from_says_whether_an_address_exists():
    assert reachable_from(endpoint("127.0.0.1"), "db1")
    assert not reachable_from(endpoint("127.0.0.1"), "app1")
    assert reachable_from(endpoint("0.0.0.0"), "app1")


def test_a_name_that_looks_like_loopback_is_not_loopback():
    # regex-era bug: ^127\. matched this name, so a client would have used it as loopback
    assert client_address(endpoint("127.0.0.1", "127.attacker.example"), "app1") == "127.attacker.example"
    assert client_address(endpoint("127.attacker.example"), "db1") == "127.attacker.example"


def test_no_bind_is_an_error():
    with pytest.raises(EndpointError, match="binds no address"):
        client_address(endpoint(), "db1")


def test_select_user_by_database():
    users = [
        {"name": "a", "database": "x"},
        {"name": "mrq", "database": "mrq"},
        {"name": "b", "database": "mrq"},
    ]
    assert select_user(users, "mrq")["name"] == "mrq"
    with pytest.raises(EndpointError, match=r"no user is defined in database 'jobs' \(users: a@x, mrq@mrq"):
        select_user(users, "jobs")


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"virtualization_type": "container", "virtualization_role": "guest"}, True),
        ({"virtualization_type": "systemd-nspawn", "virtualization_role": "guest"}, True),
        ({"virtualization_type": "lxc", "virtualization_role": "host"}, False),  # runs containers
        ({"virtualization_type": "kvm", "virtualization_role": "guest"}, False),
        ({"virtualization_type": "NA", "virtualization_role": "NA"}, False),
        ({}, False),
    ],
)
def test_shared_kernel(facts, expected):
    assert shared_kernel(facts) is expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (
            {"distribution": "Debian", "distribution_major_version": "12", "distribution_version": "12.8"},
            "Debian 12",
        ),
        (
            {"distribution": "Ubuntu", "distribution_major_version": "24", "distribution_version": "24.04"},
            "Ubuntu 24.04",
        ),
    ],
)
def test_release(facts, expected):
    assert release(facts) == expected


def test_users_without_a_password_take_the_default() -> None:
    users = [{"name": "mrq", "database": "mrq"}, {"name": "ro", "database": "mrq", "password": "own"}]
    assert with_password(users, "default pw") == [
        {"name": "mrq", "database": "mrq", "password": "default pw"},
        {"name": "ro", "database": "mrq", "password": "own"},
    ]


def test_local_url_host_reaches_a_server_from_its_own_host():
    from ansible_collections.mrq_lab.cluster.plugins.module_utils.endpoints import local_url_host

    assert local_url_host("0.0.0.0") == "127.0.0.1"
    assert local_url_host("::") == "[::1]"
    assert local_url_host("10.0.0.5") == "10.0.0.5"
    assert local_url_host("fe80::1") == "[fe80::1]"
    assert local_url_host("::ffff:10.0.0.5") == "10.0.0.5"
    assert local_url_host("localhost") == "localhost"
