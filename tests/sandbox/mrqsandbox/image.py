"""The golden image: a read-only Debian rootfs made by debootstrap, which every
host overlays. It is cached under CACHE/images by the hash of its recipe (the
constants below, GOLDEN_FILES and the controller's extra CA certificates).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from .common import SandboxError, log, run
from .config import CACHE, GATEWAY, PROXY_PORT
from .hosts import hosts

IMAGE_REVISION = 4  # bump when build_image() changes what it produces
RELEASE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "systemd,systemd-sysv,dbus,libpam-systemd,python3,python3-apt,sudo,"
    "openssh-server,iproute2,ca-certificates,procps"
)
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
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
        # No pipelining through the proxy, and retries: four hosts refreshing at
        # the same moment once left apt waiting forever on a connection the
        # proxy had closed (not shown to prevent it; see README, "Measured here").
        'Acquire::http::Pipeline-Depth "0";\n'
        'Acquire::Retries "3";\n'
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
        raise SandboxError(f"debootstrap failed: {res.stderr.strip()[-2000:]}")
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
