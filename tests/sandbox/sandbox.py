#!/usr/bin/env python3
"""sandbox: throw-away Debian test hosts for this project (systemd-nspawn).

Each host is an overlayfs clone of a cached, read-only "golden" Debian rootfs,
booted with systemd as PID 1 under systemd-nspawn, with its own IP on a bridge
this tool creates. The controller reaches every host by SSH as root with a key
kept under the state directory; hosts reach each other and the controller, and
nothing else: an nftables table drops everything forwarded into or out of the
bridge. Hosts get apt (and pip, HTTPS CONNECT) through an apt-cacher-ng proxy
that listens on the bridge address only.

Commands (all idempotent; run as root):
  image [--rebuild]        build the golden rootfs once (cached by recipe hash)
  up NAME[=IP]...          start hosts (builds image, bridge, proxy if needed);
                           IP pins an address on the bridge, else the first free
  down [NAME...]           stop hosts; with no NAME, stop all and remove the
                           bridge, nft table, proxy and cgroups (also after a
                           failed or interrupted run)
  status [--json]          list running hosts (name, ip, pid, memory)
  ssh NAME [CMD...]        open a shell or run a command on a host
  check                    exit 1 if anything of the sandbox is left running
  (hosts also see http://10.231.7.1:8080/ : the files under CACHE/www, e.g. a
  test apt repository; nothing else on the controller is served to them)
  purge                    down + delete cached images and caches

Environment:
  MRQ_SANDBOX_STATE   state directory   (default /var/lib/mrq-sandbox)
  MRQ_SANDBOX_CACHE   cache directory   (default /var/cache/mrq-sandbox)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

STATE = Path(os.environ.get("MRQ_SANDBOX_STATE", "/var/lib/mrq-sandbox"))
CACHE = Path(os.environ.get("MRQ_SANDBOX_CACHE", "/var/cache/mrq-sandbox"))
BRIDGE = "mrqsb0"
SUBNET = ipaddress.ip_network("10.231.7.0/24")
GATEWAY = SUBNET.network_address + 1  # the controller's address on the bridge
FIRST_HOST = 10
NFT_TABLE = "mrq_sandbox"
CGROUP_NAME = "mrq-sandbox"
# Hybrid hierarchy (this project's machines): name=systemd + unified; a pure
# cgroup2 machine has a single hierarchy.
CGROUP_ROOTS = (
    (Path("/sys/fs/cgroup"),)
    if Path("/sys/fs/cgroup/cgroup.controllers").exists()
    else (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))
)
WWW_PORT = 8080
PROXY_PORT = 13142  # not 3142: a system apt-cacher-ng may hold it
IMAGE_REVISION = 4  # bump when build_image() changes what it produces
RELEASE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "systemd,systemd-sysv,dbus,libpam-systemd,python3,python3-apt,sudo,"
    "openssh-server,iproute2,ca-certificates,procps"
)
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
SSH_OPTS = (
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
)
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "dpkg-db-backup.timer",
    "systemd-timesyncd.service",
    "e2scrub_reap.service",
)

# Files written into the golden image (path -> content). Part of the recipe hash.
GOLDEN_FILES = {
    "etc/apt/sources.list": (
        f"deb {MIRROR} {RELEASE} main\n"
        f"deb {MIRROR} {RELEASE}-updates main\n"
        f"deb http://deb.debian.org/debian-security {RELEASE}-security main\n"
    ),
    "etc/apt/apt.conf.d/01sandbox-proxy": (
        f'Acquire::http::Proxy "http://{GATEWAY}:{PROXY_PORT}";\n'
        f'Acquire::http::Proxy::{GATEWAY} "DIRECT";\n'
        f'Acquire::https::Proxy "http://{GATEWAY}:{PROXY_PORT}";\n'
        'Acquire::Languages "none";\n'
    ),
    # pip goes through the proxy's CONNECT pass-through; the egress CA is trusted.
    "etc/pip.conf": (
        f"[global]\nproxy = http://{GATEWAY}:{PROXY_PORT}\ncert = /etc/ssl/certs/ca-certificates.crt\n"
    ),
    # Host keys are deleted from the image and made per clone at first start.
    "etc/systemd/system/ssh.service.d/host-keys.conf": (
        "[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n"
    ),
    # The stock DHCP config for host0 is replaced by a static file per clone.
    "etc/systemd/network/80-container-host0.network": None,  # -> /dev/null
    "etc/resolv.conf": "# no DNS in the sandbox: names are in /etc/hosts\n",
    "etc/ssh/sshd_config.d/sandbox.conf": "PasswordAuthentication no\nUseDNS no\n",
}


def log(msg: str) -> None:
    print(f"sandbox: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    log(f"error: {msg}")
    sys.exit(1)


def run(*cmd: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, text=True, capture_output=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    if not quiet and res.returncode != 0:
        log(f"ignored: {' '.join(cmd)}: {res.stderr.strip()}")
    return res


# --------------------------------------------------------------------------- image


def ca_files() -> dict[str, bytes]:
    if not EXTRA_CA_DIR.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(EXTRA_CA_DIR.glob("*.crt"))}


def recipe_hash() -> str:
    h = hashlib.sha256()
    h.update(json.dumps([IMAGE_REVISION, RELEASE, MIRROR, PACKAGES, MASKED_UNITS, GOLDEN_FILES]).encode())
    for name, data in ca_files().items():
        h.update(name.encode() + data)
    return h.hexdigest()[:12]


def image_dir() -> Path:
    return CACHE / "images" / f"{RELEASE}-{recipe_hash()}"


def build_image(rebuild: bool = False) -> Path:
    final = image_dir()
    if final.is_dir() and not rebuild:
        return final
    started = time.monotonic()
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    debcache = CACHE / "debootstrap"
    debcache.mkdir(parents=True, exist_ok=True)
    log(f"building golden rootfs {final.name} (debootstrap {RELEASE}, ~1 min cold)")
    res = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            f"--cache-dir={debcache}",
            RELEASE,
            str(tmp),
            MIRROR,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if res.returncode != 0:
        die(f"debootstrap failed: {res.stderr.strip()[-2000:]}")
    for rel, content in GOLDEN_FILES.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            path.unlink()
        if content is None:
            path.symlink_to("/dev/null")
        else:
            path.write_text(content)
    cas = ca_files()
    for name, data in cas.items():
        (tmp / "usr/local/share/ca-certificates" / name).write_bytes(data)
    chroot = ["chroot", str(tmp)]
    if cas:
        run(*chroot, "update-ca-certificates")
    run(*chroot, "systemctl", "enable", "systemd-networkd.service")
    run(*chroot, "systemctl", "mask", *MASKED_UNITS)
    for key in (tmp / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (tmp / "etc/machine-id").write_text("")
    shutil.rmtree(tmp / "var/lib/apt/lists", ignore_errors=True)
    (tmp / "var/lib/apt/lists/partial").mkdir(parents=True)
    run("apt-get", "clean", "-o", f"Dir={tmp}", check=False, quiet=True)
    # Empty package lists, dated 1970: apt's cache_valid_time must see them stale.
    (tmp / "var/lib/apt/periodic/update-success-stamp").unlink(missing_ok=True)
    os.utime(tmp / "var/lib/apt/lists", (0, 0))
    tmp.rename(final)
    # Older images (other recipes) are of no further use.
    for old in final.parent.iterdir():
        if old != final and not in_use(old):
            shutil.rmtree(old, ignore_errors=True)
    log(f"golden rootfs ready in {time.monotonic() - started:.0f} s: {final}")
    return final


def in_use(image: Path) -> bool:
    return any(h.image == str(image) for h in hosts())


# --------------------------------------------------------------------------- network


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


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
    if run("nft", "list", "table", "inet", NFT_TABLE, check=False, quiet=True).returncode != 0:
        subprocess.run(["nft", "-f", "-"], input=ruleset, text=True, check=True)


def remove_network() -> None:
    if run("nft", "list", "table", "inet", NFT_TABLE, check=False, quiet=True).returncode == 0:
        run("nft", "delete", "table", "inet", NFT_TABLE)
    if link_exists(BRIDGE):
        run("ip", "link", "del", BRIDGE)


# --------------------------------------------------------------------------- proxy


def proxy_dir() -> Path:
    return STATE / "proxy"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(path: Path, expect: str) -> int | None:
    """The live pid in `path` whose command line contains `expect` (pids in
    files that outlived a reboot may belong to anything by now)."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) and expect in cmdline(pid) else None


def ensure_proxy() -> None:
    pdir = proxy_dir()
    if read_pid(pdir / "pid", "apt-cacher-ng"):
        return
    if not shutil.which("apt-cacher-ng"):
        die("apt-cacher-ng is not installed (apt-get install apt-cacher-ng)")
    pdir.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "apt-cacher-ng"
    cache.mkdir(parents=True, exist_ok=True)
    # Own config: none of the stock Remap-* lines (they send deb.debian.org to
    # an unreachable mirror). CONNECT only to PyPI, for pip.
    (pdir / "acng.conf").write_text(
        f"CacheDir: {cache}\nLogDir: {pdir}\nSupportDir: /usr/lib/apt-cacher-ng\n"
        f"Port: {PROXY_PORT}\nBindAddress: {GATEWAY}\nPidFile: {pdir / 'pid'}\n"
        f"SocketPath: {pdir / 'socket'}\nForeGround: 0\nExThreshold: 4\n"
        "PassThroughPattern: ^(pypi\\.org|files\\.pythonhosted\\.org|repo\\.mongodb\\.org):443$\n"
        "VfilePatternEx: ^/pool/.*|.*/by-hash/.*\n"
    )
    run("apt-cacher-ng", "-c", str(pdir))
    for _ in range(50):
        if read_pid(pdir / "pid", "apt-cacher-ng") and port_open(str(GATEWAY), PROXY_PORT):
            return
        time.sleep(0.1)
    die(f"apt-cacher-ng did not start; see {pdir}")


def stop_pidfile(pidfile: Path, expect: str) -> None:
    """SIGTERM the process a pid file names, SIGKILL after 5 s; remove the file."""
    pid = read_pid(pidfile, expect)
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def stop_proxy() -> None:
    stop_pidfile(proxy_dir() / "pid", "apt-cacher-ng")


def www_dir() -> Path:
    return CACHE / "www"


def ensure_www() -> None:
    """Serve CACHE/www to the hosts (read-only, bridge address only)."""
    pidfile = STATE / "www.pid"
    if read_pid(pidfile, "http.server"):
        return
    www_dir().mkdir(parents=True, exist_ok=True)
    with open(STATE / "www.log", "a") as logf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(WWW_PORT),
                "--bind",
                str(GATEWAY),
                "--directory",
                str(www_dir()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile.write_text(f"{proc.pid}\n")
    for _ in range(50):
        if port_open(str(GATEWAY), WWW_PORT):
            return
        time.sleep(0.1)
    die(f"file server did not start; see {STATE / 'www.log'}")


def stop_www() -> None:
    stop_pidfile(STATE / "www.pid", "http.server")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- hosts


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


def allocate_ip(used: set[str]) -> str:
    for offset in range(FIRST_HOST, SUBNET.num_addresses - 1):
        ip = str(SUBNET.network_address + offset)
        if ip not in used:
            return ip
    die("no free address left on the sandbox bridge")
    raise AssertionError


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
            raise RuntimeError(f"{host.name}: systemd-nspawn exited:\n{tail}")
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
    raise RuntimeError(f"{host.name}: no SSH on {host.ip} after {timeout:.0f} s")


def cgroup_pids(cg: Path) -> list[int]:
    pids: list[int] = []
    for procs in cg.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in procs.read_text().split()]
    return pids


def remove_cgroup(cg: Path) -> None:
    if not cg.exists():
        return
    for sub in sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    try:
        cg.rmdir()
    except OSError as exc:
        log(f"could not remove cgroup {cg}: {exc}")


def stop_host(name: str, timeout: float = 15.0) -> None:
    hdir = STATE / "hosts" / name
    meta = hdir / "host.json"
    host = Host(**json.loads(meta.read_text())) if meta.exists() else None
    if host and host.running:
        # nspawn turns SIGTERM into an orderly shutdown of the container.
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
    root = hdir / "root"
    if is_mounted(root):
        run("umount", str(root), check=False)
        if is_mounted(root):
            run("umount", "-l", str(root), check=False)
    for cg in cgroups:
        remove_cgroup(cg)
    shutil.rmtree(hdir, ignore_errors=True)


def refresh_hosts_files() -> None:
    running = [h for h in hosts() if h.running]
    content = hosts_file(running)
    for h in running:
        (h.root / "etc/hosts").write_text(content)


# --------------------------------------------------------------------------- commands


def cmd_image(args: argparse.Namespace) -> None:
    print(build_image(rebuild=args.rebuild))


def parse_host_arg(arg: str) -> tuple[str, str | None]:
    """NAME or NAME=IP -> (name, ip or None); exits on a bad name or address."""
    name, _, ip = arg.partition("=")
    if not name.replace("-", "").isalnum() or len(name) > 40:
        die(f"invalid host name {name!r} (letters, digits and '-')")
    if ip:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            addr = None
        if addr is None or addr not in SUBNET or int(addr) - int(SUBNET.network_address) < FIRST_HOST:
            die(f"{arg}: address must be in {SUBNET}, from .{FIRST_HOST} on")
    return name, ip or None


def cmd_up(args: argparse.Namespace) -> None:
    wanted = [parse_host_arg(a) for a in args.names]
    args.names = [name for name, _ in wanted]
    image = build_image()
    ensure_network()
    ensure_proxy()
    ensure_www()
    current = {h.name: h for h in hosts()}
    used = {h.ip for h in current.values() if h.running}
    started: list[Host] = []
    for name, ip in wanted:
        h = current.get(name)
        if h and h.running and ip in (None, h.ip):
            continue
        if h or (STATE / "hosts" / name).exists():
            stop_host(name)  # leftovers of a crashed run, or a new address
            used.discard(h.ip if h else "")
        if ip in used:
            die(f"{ip} is already taken by another sandbox host")
        ip = ip or allocate_ip(used)
        used.add(ip)
        started.append(start_host(name, image, ip))
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
        die("; ".join(errors))
    if started:
        log(f"{len(started)} host(s) ready in {time.monotonic() - t0:.1f} s")
    show([h for h in hosts() if h.name in args.names], args.json)


def cmd_down(args: argparse.Namespace) -> None:
    names = args.names or sorted({h.name for h in hosts()} | existing_dirs())
    for name in names:
        stop_host(name)
    if not args.names or not hosts():
        teardown_shared()


def existing_dirs() -> set[str]:
    hdir = STATE / "hosts"
    found = {p.name for p in hdir.iterdir() if p.is_dir()} if hdir.is_dir() else set()
    for root in CGROUP_ROOTS:
        base = root / CGROUP_NAME
        if base.is_dir():
            found |= {p.name for p in base.iterdir() if p.is_dir()}
    return found


def teardown_shared() -> None:
    stop_www()
    stop_proxy()
    remove_network()
    for root in CGROUP_ROOTS:
        remove_cgroup(root / CGROUP_NAME)


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
        }
        for h in hs
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        state = "running" if r["running"] else "stopped"
        print(f"{r['name']:<20} {r['ip']:<15} {state:<8} pid {r['pid']:<8} {r['memory_mib']:.0f} MiB")


def cmd_status(args: argparse.Namespace) -> None:
    show(hosts(), args.json)


def cmd_ssh(args: argparse.Namespace) -> None:
    host = next((h for h in hosts() if h.name == args.name and h.running), None)
    if host is None:
        die(f"no running host {args.name!r}")
    os.execvp("ssh", ["ssh", *SSH_OPTS, "-i", str(ssh_key()), f"root@{host.ip}", *args.cmd])


def leftovers() -> list[str]:
    found = []
    if any(h.running for h in hosts()):
        found.append("running hosts: " + ", ".join(h.name for h in hosts() if h.running))
    with open("/proc/self/mounts") as mounts:
        found += [f"mount {line.split()[1]}" for line in mounts if line.split()[1].startswith(str(STATE))]
    if link_exists(BRIDGE):
        found.append(f"bridge {BRIDGE}")
    if run("nft", "list", "table", "inet", NFT_TABLE, check=False, quiet=True).returncode == 0:
        found.append(f"nft table inet {NFT_TABLE}")
    if read_pid(proxy_dir() / "pid", "apt-cacher-ng"):
        found.append("apt-cacher-ng proxy")
    if read_pid(STATE / "www.pid", "http.server"):
        found.append("file server")
    found += [f"cgroup {root / CGROUP_NAME}" for root in CGROUP_ROOTS if (root / CGROUP_NAME).exists()]
    ps = run("ps", "-eo", "pid=,args=", check=False, quiet=True).stdout
    found += [
        f"process {line.strip()}"
        for line in ps.splitlines()
        if "systemd-nspawn" in line and str(STATE) in line
    ]
    return found


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="sandbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("image", help="build the golden rootfs (cached)")
    p.add_argument("--rebuild", action="store_true", help="build even if cached")
    p.set_defaults(func=cmd_image)
    p = sub.add_parser("up", help="start hosts")
    p.add_argument("names", nargs="+", metavar="NAME[=IP]")
    p.add_argument("--json", action="store_true", help="print the hosts as JSON")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for SSH")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="stop hosts (all, and shared resources, if none named)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.set_defaults(func=cmd_down)
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
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        die("must run as root")
    try:
        args.func(args)
    except RuntimeError as exc:
        die(str(exc))


if __name__ == "__main__":
    main()
