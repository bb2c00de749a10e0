"""Sandbox hosts: overlay clones of the golden image booted by systemd-nspawn,
each in cgroups of its own, with a static address on the bridge and root SSH
with the sandbox's key. A host's state lives in STATE/hosts/NAME (host.json,
the overlay's layers, the console log).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .common import SandboxError, cmdline, log, pid_alive, port_open, run
from .config import BRIDGE, CGROUP_NAME, CGROUP_ROOTS, FIRST_HOST, GATEWAY, SSH_OPTS, STATE, SUBNET
from .network import remove_host_link


@dataclass
class Host:
    name: str
    ip: str
    pid: int
    image: str

    @property
    def dir(self) -> Path:
        return STATE / "hosts" / self.name

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def running(self) -> bool:
        return pid_alive(self.pid) and f"--machine={self.name}" in cmdline(self.pid)


def hosts() -> list[Host]:
    found = []
    for meta in sorted((STATE / "hosts").glob("*/host.json")):
        try:
            found.append(Host(**json.loads(meta.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return found


def existing_dirs() -> set[str]:
    """Names of hosts with a state directory or a cgroup (running or not)."""
    hdir = STATE / "hosts"
    found = {p.name for p in hdir.iterdir() if p.is_dir()} if hdir.is_dir() else set()
    for root in CGROUP_ROOTS:
        base = root / CGROUP_NAME
        if base.is_dir():
            found |= {p.name for p in base.iterdir() if p.is_dir()}
    return found


def allocate_ip(used: set[str]) -> str:
    for offset in range(FIRST_HOST, SUBNET.num_addresses - 1):
        ip = str(SUBNET.network_address + offset)
        if ip not in used:
            return ip
    raise SandboxError("no free address left on the sandbox bridge")


def ssh_key() -> Path:
    key = STATE / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mrq-sandbox", "-f", str(key))
    return key


def cgroup_dirs(name: str) -> list[Path]:
    return [root / CGROUP_NAME / name for root in CGROUP_ROOTS if root.is_dir()]


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def hosts_file(all_hosts: list[Host]) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", f"{GATEWAY} controller"]
    lines += [f"{h.ip} {h.name}" for h in sorted(all_hosts, key=lambda h: h.name)]
    return "\n".join(lines) + "\n"


def refresh_hosts_files() -> None:
    running = [h for h in hosts() if h.running]
    content = hosts_file(running)
    for h in running:
        (h.root / "etc/hosts").write_text(content)


def start_host(name: str, image: Path, ip: str) -> Host:
    host = Host(name=name, ip=ip, pid=0, image=str(image))
    for sub in ("upper", "work", "root"):
        (host.dir / sub).mkdir(parents=True, exist_ok=True)
    if not is_mounted(host.root):
        run(
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={image},upperdir={host.dir / 'upper'},workdir={host.dir / 'work'}",
            str(host.root),
        )
    root = host.root
    (root / "etc/hostname").write_text(name + "\n")
    (root / "etc/systemd/network/10-host0.network").write_text(
        f"[Match]\nName=host0\n\n[Network]\nAddress={ip}/{SUBNET.prefixlen}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
    )
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(f"{ssh_key()}.pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)

    cgroups = cgroup_dirs(name)
    for cg in cgroups:
        cg.mkdir(parents=True, exist_ok=True)

    def join_cgroups() -> None:
        # nspawn --keep-unit uses the caller's cgroup: give it one of its own,
        # in both the name=systemd and the unified hierarchy.
        for cg in cgroups:
            (cg / "cgroup.procs").write_text(str(os.getpid()))

    remove_host_link(name)
    console = open(host.dir / "console.log", "w")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            "systemd-nspawn",
            "--quiet",
            "--boot",
            f"--directory={root}",
            f"--machine={name}",
            "--register=no",
            "--keep-unit",
            f"--network-bridge={BRIDGE}",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=passive",
        ],
        stdin=subprocess.DEVNULL,
        stdout=console,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=join_cgroups,
    )
    console.close()
    host.pid = proc.pid
    (host.dir / "host.json").write_text(json.dumps(asdict(host)) + "\n")
    return host


def wait_ready(host: Host, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not host.running:
            tail = (host.dir / "console.log").read_text()[-2000:]
            raise SandboxError(f"{host.name}: systemd-nspawn exited:\n{tail}")
        if port_open(host.ip, 22, 0.3):
            res = subprocess.run(
                [
                    "ssh",
                    *SSH_OPTS,
                    "-i",
                    str(ssh_key()),
                    f"root@{host.ip}",
                    "systemctl is-system-running --wait >/dev/null; true",
                ],
                capture_output=True,
                text=True,
                timeout=max(5, deadline - time.monotonic()),
            )
            if res.returncode == 0:
                return
        time.sleep(0.2)
    raise SandboxError(f"{host.name}: no SSH on {host.ip} after {timeout:.0f} s")


def cgroup_dirs_below(cg: Path) -> list[Path]:
    """`cg` and every cgroup below it, deepest last. os.walk, not Path.rglob: a
    cgroup that goes away during the walk (an SSH session's scope) is skipped,
    where rglob raises FileNotFoundError."""
    return [Path(top) for top, _dirs, _files in os.walk(cg)]


def cgroup_pids(cg: Path) -> list[int]:
    pids: list[int] = []
    for sub in cgroup_dirs_below(cg):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (sub / "cgroup.procs").read_text().split()]
    return pids


def remove_cgroup(cg: Path) -> None:
    if not cg.exists():
        return
    for sub in sorted(cgroup_dirs_below(cg)[1:], key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    try:
        cg.rmdir()
    except OSError as exc:
        log(f"could not remove cgroup {cg}: {exc}")


def halt_host(name: str, hard: bool = False, timeout: float = 15.0) -> None:
    """Stop a host's processes, keeping its disk: an orderly shutdown (nspawn turns
    SIGTERM into one), or with `hard` a power loss (SIGKILL to everything)."""
    meta = STATE / "hosts" / name / "host.json"
    host = Host(**json.loads(meta.read_text())) if meta.exists() else None
    if host and host.running and not hard:
        os.kill(host.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while host.running and time.monotonic() < deadline:
            time.sleep(0.1)
    cgroups = cgroup_dirs(name)
    for _ in range(50):
        left = {p for cg in cgroups for p in cgroup_pids(cg)}
        if host and host.running:
            left.add(host.pid)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    else:
        log(f"{name}: processes still alive: {sorted(left)}")


def restart_host(name: str, hard: bool = False) -> Host:
    """Reboot a host on the same disk and address (or power-cycle it, `hard`)."""
    meta = STATE / "hosts" / name / "host.json"
    if not meta.exists():
        raise SandboxError(f"{name}: no such host")
    host = Host(**json.loads(meta.read_text()))
    halt_host(name, hard=hard)
    return start_host(name, Path(host.image), host.ip)


def stop_host(name: str, timeout: float = 15.0) -> None:
    hdir = STATE / "hosts" / name
    halt_host(name, timeout=timeout)
    remove_host_link(name)
    root = hdir / "root"
    if is_mounted(root):
        run("umount", str(root), check=False)
        if is_mounted(root):
            run("umount", "-l", str(root), check=False)
    for cg in cgroup_dirs(name):
        remove_cgroup(cg)
    shutil.rmtree(hdir, ignore_errors=True)


def memory_mib(host: Host) -> float:
    total = 0
    for cg in cgroup_dirs(host.name):
        for pid in set(cgroup_pids(cg)):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        break  # one hierarchy lists every process
    return total / 1024
