"""The sandbox's network: bridge BRIDGE with the controller at GATEWAY, and an
nftables table that drops everything forwarded into or out of the bridge.
"""

from __future__ import annotations

from pathlib import Path

from .common import run
from .config import BRIDGE, GATEWAY, NFT_TABLE, SUBNET


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def remove_host_link(host: str) -> None:
    """Delete the host side of a host's veth pair if a dead host left it behind
    (systemd-nspawn then refuses to start a host of that name: "File exists")."""
    link = f"vb-{host}"
    if link_exists(link):
        run("ip", "link", "del", link, check=False)


def nft_table_exists() -> bool:
    return run("nft", "list", "table", "inet", NFT_TABLE, check=False, quiet=True).returncode == 0


def ensure_network() -> None:
    if not link_exists(BRIDGE):
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
    # Hosts talk to each other (bridged; seen here when br_netfilter is loaded)
    # and to the controller (input); nothing they send is routed anywhere else,
    # nothing from elsewhere is routed to them.
    ruleset = (
        f"table inet {NFT_TABLE} {{\n"
        "  chain forward {\n"
        "    type filter hook forward priority -10; policy accept;\n"
        f'    iifname "{BRIDGE}" oifname "{BRIDGE}" accept\n'
        f'    iifname "{BRIDGE}" counter drop\n'
        f'    oifname "{BRIDGE}" counter drop\n'
        "  }\n"
        "}\n"
    )
    if not nft_table_exists():
        run("nft", "-f", "-", input=ruleset)


def remove_network() -> None:
    if nft_table_exists():
        run("nft", "delete", "table", "inet", NFT_TABLE)
    if link_exists(BRIDGE):
        run("ip", "link", "del", BRIDGE)
