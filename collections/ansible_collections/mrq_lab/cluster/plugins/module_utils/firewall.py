"""The project's firewall: one nftables table of its own (`inet mrq_lab`) that lets
only listed sources reach the ports this host serves, and leaves every other port
(SSH among them) and every other table of the host alone.

An *opening* is {"name": "redis", "port": 6379, "allow": ["10.0.20.0/24"],
"allow_hosts": ["worker1", "worker2"]}: the port's TCP traffic is accepted from
loopback, from the allowed addresses and networks and from every address of the
allowed inventory hosts (their network facts), and refused (TCP reset) from
anywhere else. Entries are parsed as IP networks, never matched as text.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

TABLE = "mrq_lab"
NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


class FirewallError(ValueError):
    """An opening or an allowed source the firewall cannot express."""


def network(entry: Any) -> Network:
    """An address or a network (`10.0.10.31`, `10.0.20.0/24`, `fd00::/64`); host bits
    set (`10.0.20.5/24`) are refused: the list would not mean what it says."""
    try:
        return ipaddress.ip_network(str(entry).strip(), strict=True)
    except ValueError as exc:
        raise FirewallError(f"{entry!r} is not an IP address or network ({exc})") from exc


def network_problem(entry: Any) -> str | None:
    try:
        network(entry)
    except FirewallError as exc:
        return str(exc)
    return None


def host_addresses(facts: Mapping[str, Any], ansible_host: Any = None) -> list[str]:
    """The addresses a host's connections can come from: its global and private
    addresses from Ansible's network facts (not loopback, not link-local), and
    ansible_host when it is an address."""
    found = []
    for key in ("all_ipv4_addresses", "all_ipv6_addresses"):
        for entry in facts.get(key) or []:
            try:
                ip = ipaddress.ip_address(str(entry).split("%")[0])
            except ValueError:
                continue
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast):
                found.append(str(ip))
    with contextlib.suppress(ValueError):  # a name: its addresses are in the facts
        found.append(str(ipaddress.ip_address(str(ansible_host))))
    return list(dict.fromkeys(found))


def addresses_of(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> list[str]:
    """Every address of `hosts` (inventory names), from their facts."""
    found: list[str] = []
    for host in hosts:
        variables = hostvars.get(host) or {}
        facts = variables.get("ansible_facts") or {}
        if "all_ipv4_addresses" not in facts:
            raise FirewallError(
                f"the addresses of {host} are unknown (no network facts): the firewall would "
                "shut it out; gather its facts in this run"
            )
        found.extend(host_addresses(facts, variables.get("ansible_host")))
    return list(dict.fromkeys(found))


def opening_problems(openings: Any, ssh_port: int = 22, inventory: Iterable[str] | None = None) -> list[str]:
    """What is wrong with a list of openings (empty when it can be applied);
    `inventory`: the known host names, when allow_hosts is to be checked."""
    if not isinstance(openings, list):
        return ["firewall_openings: a list of {name, port, allow, allow_hosts}"]
    problems, ports = [], []
    for opening in openings:
        opening = opening if isinstance(opening, Mapping) else {}
        name = opening.get("name")
        label = f"firewall_openings[{name!r}]"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems.append(f"{label}: a name of lowercase letters, digits, _ and - (at most 32)")
        port = opening.get("port")
        if isinstance(port, bool) or not str(port).isdigit() or not 1 <= int(port) <= 65535:
            problems.append(f"{label}.port: {port!r} is not a TCP port (1-65535)")
        elif int(port) == int(ssh_port):
            problems.append(f"{label}.port: {port} is the port Ansible connects to (SSH), never filtered")
        elif int(port) in ports:
            problems.append(f"{label}.port: {port} is in two openings; one opening per port")
        else:
            ports.append(int(port))
        hosts = opening.get("allow_hosts", [])
        if not isinstance(hosts, list):
            problems.append(f"{label}.allow_hosts: a list of inventory host names")
        elif inventory is not None:
            unknown = [h for h in hosts if h not in set(inventory)]
            problems.extend(f"{label}.allow_hosts: {h!r} is not in the inventory" for h in unknown)
        allow = opening.get("allow", [])
        if not isinstance(allow, list):
            problems.append(f"{label}.allow: a list of addresses and networks")
            continue
        problems.extend(f"{label}.allow: {p}" for p in map(network_problem, allow) if p)
    return problems


def _elements(networks: Sequence[Network]) -> str:
    return ", ".join(str(n.network_address) if n.num_addresses == 1 else str(n) for n in networks)


def allowed(
    openings: Sequence[Mapping[str, Any]],
    hostvars: Mapping[str, Any] | None = None,
    keep: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, list[str]]:
    """Port -> every source let in (networks and the allowed hosts' addresses), plus
    `keep`'s sources for ports still served (what the table let in before: a run
    keeps them until its MRQ hosts have stopped what they no longer run)."""
    result = {}
    for opening in openings:
        port = str(int(opening["port"]))
        hosts = addresses_of(opening.get("allow_hosts", []), hostvars or {})
        sources = list(opening.get("allow", [])) + hosts + list((keep or {}).get(port, []))
        result[port] = [str(n) for n in sorted({network(s) for s in sources}, key=lambda n: (n.version, n))]
    return result


def ruleset(
    openings: Sequence[Mapping[str, Any]],
    hostvars: Mapping[str, Any] | None = None,
    keep: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The nftables script that replaces table inet mrq_lab in one transaction
    (`nft -f`): created if missing, deleted, defined again. `hostvars` gives the
    addresses of allow_hosts; `keep`, sources to let in still (see `allowed`)."""
    problems = opening_problems(list(openings))
    if problems:
        raise FirewallError("; ".join(problems))
    sources = allowed(openings, hostvars, keep)
    sets, rules = [], []
    for opening in sorted(openings, key=lambda o: int(o["port"])):
        port, name = int(opening["port"]), opening["name"]
        parsed = [network(entry) for entry in sources[str(port)]]
        rules.append(f"\t\t# {name}")
        for family, kind, match in ((4, "ipv4_addr", "ip"), (6, "ipv6_addr", "ip6")):
            nets = list(ipaddress.collapse_addresses(n for n in parsed if n.version == family))
            if not nets:
                continue
            set_name = f"allow_{port}_v{family}"
            sets.append(
                f"\tset {set_name} {{\n\t\ttype {kind}\n\t\tflags interval\n"
                f"\t\telements = {{ {_elements(nets)} }}\n\t}}\n"
            )
            rules.append(f"\t\ttcp dport {port} {match} saddr @{set_name} accept")
        rules.append(f"\t\ttcp dport {port} counter reject with tcp reset")
    chain = (
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy accept;\n"
        '\t\tiif "lo" accept\n' + "".join(f"{r}\n" for r in rules) + "\t}\n"
    )
    return f"table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n{''.join(sets)}{chain}}}\n"
