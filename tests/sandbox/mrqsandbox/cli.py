"""The command line: argparse, one cmd_* function a command, and main(), the
only place that turns a SandboxError into `sandbox: error: ...` and exit 1.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import __doc__ as USAGE
from .common import SandboxError, exclusive, log, run
from .config import (
    BRIDGE,
    CACHE,
    CGROUP_NAME,
    CGROUP_ROOTS,
    FIRST_HOST,
    LOCK,
    NFT_TABLE,
    SSH_OPTS,
    STATE,
    SUBNET,
)
from .hosts import (
    Host,
    allocate_ip,
    existing_dirs,
    hosts,
    memory_mib,
    refresh_hosts_files,
    remove_cgroup,
    restart_host,
    ssh_key,
    start_host,
    stop_host,
    wait_ready,
)
from .image import DEFAULT_RELEASE, build_image, check_release, image_release
from .network import ensure_network, link_exists, nft_table_exists, remove_network
from .services import ensure_proxy, ensure_www, proxy_running, stop_proxy, stop_www, www_running


def parse_host_arg(arg: str) -> tuple[str, str | None, str]:
    """NAME[=IP][@RELEASE] -> (name, ip or None, release); SandboxError on a bad
    name, address or release."""
    spec, at, release = arg.partition("@")
    check_release(release if at else DEFAULT_RELEASE)
    name, _, ip = spec.partition("=")
    if not name.replace("-", "").isalnum() or len(name) > 40:
        raise SandboxError(f"invalid host name {name!r} (letters, digits and '-')")
    if ip:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            addr = None
        if addr is None or addr not in SUBNET or int(addr) - int(SUBNET.network_address) < FIRST_HOST:
            raise SandboxError(f"{spec}: address must be in {SUBNET}, from .{FIRST_HOST} on")
    return name, ip or None, release or DEFAULT_RELEASE


def show(hs: list[Host], as_json: bool) -> None:
    rows = [
        {
            "name": h.name,
            "ip": h.ip,
            "pid": h.pid,
            "running": h.running,
            "user": "root",
            "port": 22,
            "identity_file": str(ssh_key()),
            "memory_mib": round(memory_mib(h), 1),
            "release": image_release(h.image),
        }
        for h in hs
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = "running" if r["running"] else "stopped"
        where = f"{r['name']:<20} {r['ip']:<15} {r['release']:<9}"
        print(f"{where} {state:<8} pid {r['pid']:<8} {r['memory_mib']:.0f} MiB")


def teardown_shared() -> None:
    """Stop what all hosts share: file server, proxy, network, cgroup parents."""
    stop_www()
    stop_proxy()
    remove_network()
    for root in CGROUP_ROOTS:
        remove_cgroup(root / CGROUP_NAME)


def leftovers() -> list[str]:
    found = []
    if any(h.running for h in hosts()):
        found.append("running hosts: " + ", ".join(h.name for h in hosts() if h.running))
    with open("/proc/self/mounts") as mounts:
        found += [f"mount {line.split()[1]}" for line in mounts if line.split()[1].startswith(str(STATE))]
    if link_exists(BRIDGE):
        found.append(f"bridge {BRIDGE}")
    if nft_table_exists():
        found.append(f"nft table inet {NFT_TABLE}")
    if proxy_running():
        found.append("apt-cacher-ng proxy")
    if www_running():
        found.append("file server")
    found += [f"cgroup {root / CGROUP_NAME}" for root in CGROUP_ROOTS if (root / CGROUP_NAME).exists()]
    ps = run("ps", "-eo", "pid=,args=", check=False, quiet=True).stdout
    found += [
        f"process {line.strip()}"
        for line in ps.splitlines()
        if "systemd-nspawn" in line and str(STATE) in line
    ]
    return found


# --------------------------------------------------------------------------- commands


def cmd_image(args: argparse.Namespace) -> None:
    print(build_image(args.release, rebuild=args.rebuild))


def cmd_up(args: argparse.Namespace) -> None:
    wanted = [parse_host_arg(a) for a in args.names]
    args.names = [name for name, _, _ in wanted]
    # A release's first image takes a minute or two: built before the lock, so
    # that other scenarios' hosts start and stop meanwhile.
    images = {release: build_image(release) for release in sorted({r for _, _, r in wanted})}
    with exclusive(LOCK):  # scenarios run side by side (./mrq-lab test)
        _up(wanted, images, args)


def _up(wanted: list[tuple[str, str | None, str]], images: dict[str, Path], args: argparse.Namespace) -> None:
    ensure_network()
    ensure_proxy()
    ensure_www()
    current = {h.name: h for h in hosts()}
    used = {h.ip for h in current.values() if h.running}
    started: list[Host] = []
    for name, ip, release in wanted:
        h = current.get(name)
        if h and h.running and ip in (None, h.ip) and h.image == str(images[release]):
            continue
        if h or (STATE / "hosts" / name).exists():
            stop_host(name)  # leftovers of a crashed run, a new address or image
            used.discard(h.ip if h else "")
        if ip in used:
            raise SandboxError(f"{ip} is already taken by another sandbox host")
        ip = ip or allocate_ip(used)
        used.add(ip)
        started.append(start_host(name, images[release], ip))
    refresh_hosts_files()
    t0 = time.monotonic()
    errors = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for fut in [pool.submit(wait_ready, h, args.timeout) for h in started]:
            try:
                fut.result()
            except Exception as exc:
                errors.append(str(exc))
    if errors:
        raise SandboxError("; ".join(errors))
    if started:
        log(f"{len(started)} host(s) ready in {time.monotonic() - t0:.1f} s")
    show([h for h in hosts() if h.name in args.names], args.json)


def cmd_down(args: argparse.Namespace) -> None:
    with exclusive(LOCK):  # the last one out removes the bridge, never under another's new host
        names = args.names or sorted({h.name for h in hosts()} | existing_dirs())
        for name in names:
            stop_host(name)
        if not args.names or not hosts():
            teardown_shared()


def cmd_restart(args: argparse.Namespace) -> None:
    host = restart_host(args.name, hard=args.hard)
    t0 = time.monotonic()
    wait_ready(host, args.timeout)
    log(f"{host.name} {'power-cycled' if args.hard else 'rebooted'}, ready in {time.monotonic() - t0:.1f} s")


def cmd_status(args: argparse.Namespace) -> None:
    show(hosts(), args.json)


def cmd_ssh(args: argparse.Namespace) -> None:
    host = next((h for h in hosts() if h.name == args.name and h.running), None)
    if host is None:
        raise SandboxError(f"no running host {args.name!r}")
    os.execvp("ssh", ["ssh", *SSH_OPTS, "-i", str(ssh_key()), f"root@{host.ip}", *args.cmd])


def cmd_check(_: argparse.Namespace) -> None:
    left = leftovers()
    for item in left:
        print(f"left over: {item}")
    if left:
        sys.exit(1)
    print("sandbox: nothing left running")


def cmd_purge(args: argparse.Namespace) -> None:
    args.names = []
    cmd_down(args)
    shutil.rmtree(CACHE, ignore_errors=True)
    shutil.rmtree(STATE, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sandbox", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("image", help="build a release's golden rootfs (cached)")
    p.add_argument("--release", default=DEFAULT_RELEASE, help=f"Debian release (default {DEFAULT_RELEASE})")
    p.add_argument("--rebuild", action="store_true", help="build even if cached")
    p.set_defaults(func=cmd_image)
    p = sub.add_parser("up", help="start hosts")
    p.add_argument("names", nargs="+", metavar="NAME[=IP][@RELEASE]")
    p.add_argument("--json", action="store_true", help="print the hosts as JSON")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for SSH")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop hosts (all, and shared resources, if none named)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("restart", help="reboot a host on the same disk (--hard: power loss)")
    p.add_argument("name")
    p.add_argument("--hard", action="store_true", help="SIGKILL everything instead of a shutdown")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for SSH")
    p.set_defaults(func=cmd_restart)
    p = sub.add_parser("status", help="list hosts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("ssh", help="ssh to a host")
    p.add_argument("name")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ssh)
    p = sub.add_parser("check", help="exit 1 if anything of the sandbox is left")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("purge", help="down, then delete images and caches")
    p.set_defaults(func=cmd_purge)
    return parser


def use_every_cpu() -> None:
    """Hosts get every CPU, whatever this command was started from: Mitogen pins
    Ansible's workers, and what they start, to one CPU (on 2 CPUs it keeps the
    other for its connection process), so hosts started by a playbook (molecule's
    create) ran every service and test of every scenario on one CPU."""
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except OSError as exc:  # a cpuset that allows fewer: keep what we have
        log(f"ignored: cannot use every CPU: {exc}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    use_every_cpu()
    try:
        if os.geteuid() != 0:
            raise SandboxError("must run as root")
        args.func(args)
    except SandboxError as exc:
        log(f"error: {exc}")
        sys.exit(1)
