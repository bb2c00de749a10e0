"""The firewall's table: sources parsed as networks, and the ruleset doing, in a
real kernel, what the openings say (two network namespaces joined by a veth pair)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.firewall import (
    FirewallError,
    addresses_of,
    allowed,
    host_addresses,
    opening_problems,
    ruleset,
)

REDIS = {"name": "redis", "port": 6379, "allow": ["10.99.0.2", "10.99.0.2", "fd00:99::/64"]}


@pytest.mark.parametrize(
    ("openings", "problem"),
    [
        ([{"name": "redis", "port": 6379, "allow": ["10.0.0.5/24"]}], "host bits set"),
        ([{"name": "redis", "port": 6379, "allow": ["127.attacker.example"]}], "not an IP address"),
        ([{"name": "redis", "port": 6379, "allow": ["10.0.0.1\n"]}], None),  # whitespace stripped
        ([{"name": "redis", "port": 6379, "allow": "10.0.0.1"}], "a list of addresses"),
        ([{"name": "redis", "port": 22, "allow": []}], "the port Ansible connects to"),
        ([{"name": "redis", "port": 70000, "allow": []}], "not a TCP port"),
        ([{"name": "redis", "port": True, "allow": []}], "not a TCP port"),
        ([{"name": "Redis DB", "port": 6379, "allow": []}], "a name of lowercase letters"),
        ([REDIS, {**REDIS, "name": "other"}], "in two openings"),
        ([{"name": "redis", "port": 6379, "allow_hosts": "worker1"}], "a list of inventory host names"),
        ([{"name": "redis", "port": 6379, "allow_hosts": ["worker9"]}], "'worker9' is not in the inventory"),
        ("redis", "a list of {name, port, allow, allow_hosts}"),
    ],
)
def test_opening_problems(openings, problem):
    found = opening_problems(openings, inventory=["worker1"])
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_ssh_port_of_the_inventory_is_never_filtered():
    assert opening_problems([{"name": "redis", "port": 2222, "allow": []}], ssh_port=2222)
    assert not opening_problems([{"name": "redis", "port": 22, "allow": []}], ssh_port=2222)


def test_host_addresses_leave_out_loopback_and_link_local():
    facts = {
        "all_ipv4_addresses": ["10.0.10.31", "127.0.0.1", "169.254.1.1"],
        "all_ipv6_addresses": ["fe80::1%eth0", "fd00::31", "::1"],
    }
    assert host_addresses(facts, "10.0.10.99") == ["10.0.10.31", "fd00::31", "10.0.10.99"]
    assert host_addresses(facts, "worker1.example.internal") == ["10.0.10.31", "fd00::31"]


def test_addresses_of_hosts_without_facts_is_an_error():
    hostvars = {"w1": {"ansible_facts": {"all_ipv4_addresses": ["10.0.0.1"]}}, "w2": {}}
    assert addresses_of(["w1"], hostvars) == ["10.0.0.1"]
    with pytest.raises(FirewallError, match="addresses of w2 are unknown"):
        addresses_of(["w1", "w2"], hostvars)


def test_ruleset_allows_every_address_of_the_allowed_hosts():
    hostvars = {
        "w1": {"ansible_host": "10.0.0.1", "ansible_facts": {"all_ipv4_addresses": ["10.0.0.1", "10.1.0.1"]}},
        "w2": {"ansible_facts": {"all_ipv4_addresses": ["10.0.0.2"], "all_ipv6_addresses": ["fd00::2"]}},
    }
    opening = {"name": "redis", "port": 6379, "allow": ["10.9.0.0/16"], "allow_hosts": ["w1", "w2"]}
    text = ruleset([opening], hostvars)
    assert "elements = { 10.0.0.1, 10.0.0.2, 10.1.0.1, 10.9.0.0/16 }" in text
    assert "elements = { fd00::2 }" in text
    with pytest.raises(FirewallError, match="addresses of w3 are unknown"):
        ruleset([{"name": "redis", "port": 6379, "allow_hosts": ["w3"]}], hostvars)


def test_ruleset_merges_sources_and_refuses_the_rest():
    text = ruleset([REDIS, {"name": "mongod", "port": 27017, "allow": []}])
    assert text.startswith("table inet mrq_lab\ndelete table inet mrq_lab\n")
    assert "elements = { 10.99.0.2 }" in text  # duplicates merged
    assert "elements = { fd00:99::/64 }" in text
    assert "tcp dport 27017 ip saddr" not in text  # nobody but loopback
    assert text.count("reject with tcp reset") == 2
    with pytest.raises(FirewallError):
        ruleset([{"name": "redis", "port": 6379, "allow": ["10.0.0.0/33"]}])


# --- in a kernel -----------------------------------------------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"), reason="needs root, nft and ip"
)


def ns(name: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", name, *argv], capture_output=True, text=True, check=check)


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, str]]:
    """A server namespace (10.99.0.1) and a client one (10.99.0.2 and 10.99.0.3)."""
    tag = uuid.uuid4().hex[:6]
    server, client = f"mrqfw-s-{tag}", f"mrqfw-c-{tag}"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    try:
        run("ip", "netns", "add", server)
        run("ip", "netns", "add", client)
        veth = ["type", "veth", "peer", f"fw{tag}c", "netns", client]
        run("ip", "link", "add", f"fw{tag}s", "netns", server, *veth)
        run("ip", "-n", server, "addr", "add", "10.99.0.1/24", "dev", f"fw{tag}s")
        run("ip", "-n", client, "addr", "add", "10.99.0.2/24", "dev", f"fw{tag}c")
        run("ip", "-n", client, "addr", "add", "10.99.0.3/24", "dev", f"fw{tag}c")
        for name, dev in ((server, f"fw{tag}s"), (client, f"fw{tag}c")):
            run("ip", "-n", name, "link", "set", "lo", "up")
            run("ip", "-n", name, "link", "set", dev, "up")
        yield server, client
    finally:
        for name in (server, client):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


CONNECT = """
import socket, sys
s = socket.socket(); s.settimeout(3); s.bind((sys.argv[1], 0))
try:
    s.connect((sys.argv[2], int(sys.argv[3]))); print("open")
except ConnectionRefusedError:
    print("refused")
except OSError as exc:
    print(type(exc).__name__)
"""


def connect(namespace: str, source: str, target: str, port: int) -> str:
    return ns(namespace, "python3", "-c", CONNECT, source, target, str(port)).stdout.strip()


@needs_root
def test_ruleset_in_a_kernel(two_hosts, tmp_path):
    server, client = two_hosts
    listener = subprocess.Popen(
        ["ip", "netns", "exec", server, "python3", "-c",
         "import socket, time\n"
         "s = [socket.create_server(('0.0.0.0', p)) for p in (6379, 27017, 2222)]\n"
         "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
    try:
        script = tmp_path / "firewall.nft"
        script.write_text(ruleset([REDIS, {"name": "mongod", "port": 27017, "allow": []}]))
        ns(server, "nft", "add", "table", "inet", "other")  # a table of the host's own
        for _ in range(2):  # applying twice replaces the table (nft -f is one transaction)
            ns(server, "nft", "-f", str(script))
        ns(server, "python3", "-c", "import socket; socket.create_connection(('10.99.0.1', 27017), 3)")
        assert connect(client, "10.99.0.2", "10.99.0.1", 6379) == "open"  # allowed
        assert connect(client, "10.99.0.3", "10.99.0.1", 6379) == "refused"  # same host, another address
        assert connect(client, "10.99.0.2", "10.99.0.1", 27017) == "refused"  # loopback only
        assert connect(client, "10.99.0.3", "10.99.0.1", 2222) == "open"  # not ours: untouched
        listed = ns(server, "nft", "list", "tables").stdout
        assert "table inet mrq_lab" in listed and "table inet other" in listed
        ns(server, "nft", "delete", "table", "inet", "mrq_lab")
        assert connect(client, "10.99.0.3", "10.99.0.1", 27017) == "open"
    finally:
        listener.kill()


def test_kept_sources_stay_until_the_exact_apply():
    opening = {"name": "redis", "port": 6379, "allow": ["10.0.0.1"]}
    kept = {"6379": ["10.0.0.2/32", "10.0.0.1/32"], "27017": ["10.0.0.9/32"]}
    assert allowed([opening], {}, kept) == {"6379": ["10.0.0.1/32", "10.0.0.2/32"]}  # a port not served: gone
    assert "elements = { 10.0.0.1, 10.0.0.2 }" in ruleset([opening], {}, kept)
    assert "elements = { 10.0.0.1 }" in ruleset([opening], {})
