"""How a client reaches a server: the one definition of loopback, wildcard and
the address a client host uses, shared by the roles' filters and tests.

A server role publishes an *endpoint* (see README, "The contract"): the host it
runs on, that host's address as the inventory knows it, the addresses the server
binds and its port. `client_address` turns that and the client's host name into
the address the client connects to. Bind entries are parsed as IP addresses
(never matched as text): `127.0.0.2`, `::1` and `::ffff:127.0.0.1` are loopback,
`127.example.org` is not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

# Bind entries meaning "every address of the host" (mongod/redis spellings).
WILDCARDS = {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "::": "::1", "::*": "::1"}
# The only name taken as loopback: it is in every /etc/hosts.
LOOPBACK_NAMES = {"localhost": "127.0.0.1"}
# ansible_virtualization_type values of guests that share the host's kernel:
# sysctl and transparent-hugepage tuning must be left to the host there.
SHARED_KERNEL = frozenset({"container", "docker", "lxc", "podman", "systemd-nspawn", "openvz", "wsl"})


class EndpointError(ValueError):
    """A client cannot reach a server the way the inventory describes it."""


def _bare(entry: str) -> str:
    """A bind entry without Redis' optional-address prefix (`-::1`)."""
    return str(entry).strip().removeprefix("-")


def parse_ip(entry: str) -> IPAddress | None:
    """The entry as an IP address (IPv4-mapped IPv6 unwrapped), or None for a name."""
    try:
        ip = ipaddress.ip_address(_bare(entry))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_wildcard(entry: str) -> bool:
    return _bare(entry) in WILDCARDS


def is_loopback(entry: str) -> bool:
    if _bare(entry).lower() in LOOPBACK_NAMES:
        return True
    ip = parse_ip(entry)
    return ip is not None and ip.is_loopback


def local_url_host(bind: str) -> str:
    """The host part of a URL that reaches, from the same host, a server bound to `bind`:
    loopback for a wildcard, IPv6 addresses in brackets, names as they are."""
    ip = parse_ip(WILDCARDS.get(_bare(bind), bind))
    if isinstance(ip, ipaddress.IPv6Address):
        return f"[{ip}]"
    return str(ip) if ip is not None else _bare(bind)


def shared_kernel(facts: Mapping[str, Any]) -> bool:
    """True on a guest that shares its host's kernel (container), from Ansible facts."""
    kind = facts.get("virtualization_type") or facts.get("ansible_virtualization_type")
    role = facts.get("virtualization_role") or facts.get("ansible_virtualization_role")
    return kind in SHARED_KERNEL and role != "host"


def release(facts: Mapping[str, Any]) -> str:
    """'Debian 12' or 'Ubuntu 24.04': the key of the roles' per-release tables."""
    dist = facts.get("distribution") or facts.get("ansible_distribution")
    if dist == "Debian":
        version = facts.get("distribution_major_version") or facts.get("ansible_distribution_major_version")
    else:
        version = facts.get("distribution_version") or facts.get("ansible_distribution_version")
    return f"{dist} {version}"


def client_address(endpoint: Mapping[str, Any], client_host: str) -> str:
    """The address `client_host` uses to reach the server of `endpoint`.

    endpoint: {"host": inventory name, "address": its ansible_host, "bind": [..]}.
    On the server's own host: a loopback bind (or loopback through a wildcard);
    from another host: the first bind that is neither loopback nor a wildcard,
    else (wildcard) the server host's address.
    """
    binds = [str(b) for b in endpoint.get("bind") or []]
    host = str(endpoint.get("host") or "")
    if not binds:
        raise EndpointError(f"the server on {host or '?'} binds no address")
    loopback = [b for b in binds if is_loopback(b)]
    wildcard = [b for b in binds if is_wildcard(b)]
    others = [b for b in binds if b not in loopback and b not in wildcard]
    if client_host == host:
        if loopback:
            return LOOPBACK_NAMES.get(_bare(loopback[0]).lower(), _bare(loopback[0]))
        if wildcard:
            return WILDCARDS[_bare(wildcard[0])]
    if others:
        return _bare(others[0])
    if wildcard:
        return str(endpoint.get("address") or host)
    raise EndpointError(
        f"the server on {host} listens on loopback only ({', '.join(binds)}): "
        f"{client_host} cannot reach it; add {host}'s private address to its bind list"
    )


def reachable_from(endpoint: Mapping[str, Any], client_host: str) -> bool:
    """Whether `client_host` has an address to reach the server of `endpoint`."""
    try:
        client_address(endpoint, client_host)
    except EndpointError:
        return False
    return True


def with_password(users: Sequence[Mapping[str, Any]], default: str) -> list[dict[str, Any]]:
    """The users, each with a password: `default` for those without one."""
    return [{**user, "password": user.get("password") or default} for user in users]


def select_user(users: Sequence[Mapping[str, Any]], database: str) -> Mapping[str, Any]:
    """The user defined in `database` (its authSource); the first one if several."""
    for user in users:
        if user.get("database") == database:
            return user
    raise EndpointError(
        f"no user is defined in database {database!r} "
        f"(users: {', '.join(str(u.get('name')) + '@' + str(u.get('database')) for u in users) or 'none'})"
    )
