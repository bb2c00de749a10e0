"""The golden images: one read-only Debian rootfs per release, made by
debootstrap, which every host of that release overlays. Each is cached under
CACHE/images/<release>-<hash> by the hash of its recipe (the constants below,
golden_files() and the controller's extra CA certificates).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from .common import SandboxError, exclusive, log, run
from .config import CACHE, GATEWAY, IMAGE_LOCK, PROXY_PORT
from .hosts import hosts

IMAGE_REVISION = 4  # bump when build_image() changes what it produces
# The Debian releases a host can run (their archive answers through the same
# mirror and proxy); hosts run DEFAULT_RELEASE unless they name another.
RELEASES = ("bullseye", "bookworm", "trixie")
DEFAULT_RELEASE = "bookworm"
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


def sources_list(release: str) -> str:
    return (
        f"deb {MIRROR} {release} main\n"
        f"deb {MIRROR} {release}-updates main\n"
        f"deb http://deb.debian.org/debian-security {release}-security main\n"
    )


# Files written into every golden image (path -> content), besides
# etc/apt/sources.list (per release). Part of the recipe hash.
GOLDEN_FILES = {
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


def golden_files(release: str) -> dict[str, str | None]:
    return {"etc/apt/sources.list": sources_list(release), **GOLDEN_FILES}


def check_release(release: str) -> None:
    if release not in RELEASES:
        raise SandboxError(f"unknown release {release!r} (one of {', '.join(RELEASES)})")


def recipe_hash(release: str = DEFAULT_RELEASE) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps([IMAGE_REVISION, release, MIRROR, PACKAGES, MASKED_UNITS, golden_files(release)]).encode()
    )
    for name, data in ca_files().items():
        h.update(name.encode() + data)
    return h.hexdigest()[:12]


def image_dir(release: str = DEFAULT_RELEASE) -> Path:
    return CACHE / "images" / f"{release}-{recipe_hash(release)}"


def image_release(image: Path | str) -> str:
    """The release of an image directory (its name starts with it)."""
    return Path(image).name.split("-")[0]


def build_image(release: str = DEFAULT_RELEASE, rebuild: bool = False) -> Path:
    """The release's golden rootfs, built unless cached. One build at a time (they
    share debootstrap's package cache); a cached image is returned without waiting."""
    check_release(release)
    final = image_dir(release)
    if final.is_dir() and not rebuild:
        return final
    with exclusive(IMAGE_LOCK):
        if final.is_dir() and not rebuild:  # built by the command we waited for
            return final
        return _build(release, final)


def _build(release: str, final: Path) -> Path:
    started = time.monotonic()
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    debcache = CACHE / "debootstrap"
    debcache.mkdir(parents=True, exist_ok=True)
    log(f"building golden rootfs {final.name} (debootstrap {release}, ~1 min cold)")
    res = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            f"--cache-dir={debcache}",
            release,
            str(tmp),
            MIRROR,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if res.returncode != 0:
        raise SandboxError(f"debootstrap failed: {res.stderr.strip()[-2000:]}")
    for rel, content in golden_files(release).items():
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
    # Older images of this release (other recipes) are of no further use.
    for old in final.parent.iterdir():
        if old != final and image_release(old) == release and not in_use(old):
            shutil.rmtree(old, ignore_errors=True)
    log(f"golden rootfs ready in {time.monotonic() - started:.0f} s: {final}")
    return final


def in_use(image: Path) -> bool:
    return any(h.image == str(image) for h in hosts())
