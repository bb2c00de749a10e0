#!/usr/bin/env python3
"""Build the TEST STAND-IN `mongodb-org` apt repository (signed), laid out like
repo.mongodb.org, so the mongodb role's real install path runs unchanged.

NOT MongoDB: the packages install SecantusDB behind a `mongod` wrapper (see
README.standin). The packages' files are under debian/ (RUNTIME_FILES and
MONGODB_ORG_FILES below say where each goes). Output, under --out:

  apt/debian/dists/<release>/mongodb-org/<series>/{InRelease,Release,Release.gpg}
  apt/debian/dists/<release>/mongodb-org/<series>/main/binary-amd64/Packages(.gz)
  apt/debian/pool/main/m/mongodb-standin-runtime/  one runtime .deb per Python (~py3.11, ~py3.13)
  apt/debian/pool/main/m/mongodb-org/<release>/    mongodb-org .debs (Depends: that release's runtime)
  standin-key.asc                                  the public key (new at every build)
  .built                                           what the build was made from

Each --release (see RELEASES; all of them by default) gets its suites and a
runtime built for its /usr/bin/python3.

--newer-in-suite also puts the next series' mongodb-org into each suite, so
tests can prove that the role's pin keeps a routine upgrade on its series.

A build asked for again with the same arguments and inputs (the packages'
files, the wheels, this script) changes nothing, key included: hosts that
installed from the repository still find it as they left it. One build runs at
a time (a lock in --cache); scenarios run side by side.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from string import Template
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "collections"))
from ansible_collections.mrq_lab.cluster.plugins.module_utils import wheelhouse  # noqa: E402

RUNTIME = "mongodb-standin-runtime"


class Target(NamedTuple):
    """What a release's hosts run the runtime with."""

    python: str  # /usr/bin/python3's version
    glibc: str  # the newest manylinux_2_x its wheels may need


RELEASES = {"bookworm": Target("3.11", "2.36"), "trixie": Target("3.13", "2.41")}
# Releases the stand-in cannot serve, and why (checked against the wheels'
# Requires-Python for requirements.txt's pins).
REFUSED = {
    "bullseye": "bullseye ships Python 3.9; SecantusDB 0.7.0b3 needs Python >= 3.10 "
    "(and the pinned numpy, pymongo, shapely and python-dateutil need >= 3.11)",
}
# The version each stand-in series claims (the series' last patch release, or
# a recent one), with a +standin suffix so nobody mistakes it for MongoDB's.
VERSIONS = {
    "3.4": "3.4.24",
    "3.6": "3.6.23",
    "4.0": "4.0.28",
    "4.2": "4.2.25",
    "4.4": "4.4.29",
    "5.0": "5.0.31",
    "6.0": "6.0.20",
    "7.0": "7.0.16",
    "8.0": "8.0.4",
    "8.2": "8.2.1",
}
NEXT = dict(zip(list(VERSIONS)[:-1], list(VERSIONS)[1:]))
SUFFIX = "+standin1"
# What each package holds: path in the package -> source under HERE (see
# stage_files(); the Debian files are in debian/<package>/).
RUNTIME_FILES = {
    "DEBIAN/control": "debian/runtime/control.in",
    "usr/lib/mongodb-standin/requirements.txt": "requirements.txt",
    "usr/lib/mongodb-standin/mongod.py": "mongod.py",
    "usr/lib/mongodb-standin/tools.py": "tools.py",
}
# The runtime package also holds SecantusDB and its pinned dependencies,
# installed here from the wheels into SITE for a release's /usr/bin/python3
# (pip picks the wheels for that Target, whatever Python runs this script), so
# a host only unpacks files: no venv, no pip, no maintainer scripts. mongod.py
# puts SITE first on sys.path. Unpacking costs about a millisecond per file on
# a host, so SITE leaves out the packages' tests/ directories, and holds .pyc
# only for the modules a mongod start imports (the mongodb user cannot write
# __pycache__ under /usr/lib; without them every start takes ~0.35 s longer),
# and only when this script runs with the target's Python (see startup_pyc()).
SITE = "usr/lib/mongodb-standin/site"
PIP_INSTALL = ("--isolated", "install", "--quiet", "--no-index", "--only-binary=:all:", "--no-compile")
# Run with the arguments: staged mongod.py, staged SITE, SITE's path on hosts.
# Imports mongod.py (not main()) as `mongod` does on a host, then compiles the
# modules that came from SITE; unchecked-hash .pyc do not depend on mtimes.
COMPILE_STARTUP = """
import importlib.util, py_compile, sys
mongod, site, dest = sys.argv[1:]
spec = importlib.util.spec_from_file_location("mongod", mongod)
spec.loader.exec_module(importlib.util.module_from_spec(spec))
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
for module in list(sys.modules.values()):
    src = getattr(module, "__file__", None) or ""
    if src.startswith(site + "/") and src.endswith(".py"):
        py_compile.compile(src, dfile=dest + src[len(site):], doraise=True, invalidation_mode=mode)
"""
# zstd -1 (bookworm's dpkg reads it): the runtime .deb (87 MB unpacked) builds
# in 0.2 s, is 27 MB and decompresses in 0.2 s; gzip -1: 1 s, 29 MB, 0.35 s;
# xz (dpkg-deb's default): 18 s, 16 MB, 0.6 s; none: 87 MB to fetch and hash.
DEB_COMPRESSION = ("-Zzstd", "-z1")
MONGODB_ORG_FILES = {
    "DEBIAN/control": "debian/mongodb-org/control.in",
    "DEBIAN/conffiles": "debian/mongodb-org/conffiles",
    "DEBIAN/postinst": "debian/mongodb-org/postinst",
    "usr/bin/mongod": "debian/mongodb-org/mongod",
    "usr/bin/mongodump": "debian/mongodb-org/mongodump",
    "usr/bin/mongorestore": "debian/mongodb-org/mongorestore",
    "etc/mongod.conf": "debian/mongodb-org/mongod.conf.in",  # ${journal}: see journal()
    "lib/systemd/system/mongod.service": "mongod.service",
    "usr/share/doc/mongodb-org/README.standin": "README.standin",
}


def sh(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if res.returncode != 0:
        sys.exit(f"build.py: {' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return res.stdout


def write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)


def stage_files(stage: Path, files: dict[str, str], values: dict[str, str]) -> None:
    """Copy `files` (path in the package -> source under HERE) into `stage`.
    A source named *.in is a string.Template, filled in from `values`; a file
    that starts with "#!" is installed 0755, any other 0644."""
    for dest, src in files.items():
        data = (HERE / src).read_bytes()
        if src.endswith(".in"):
            data = Template(data.decode()).substitute(values).encode()
        write(stage / dest, data, 0o755 if data.startswith(b"#!") else 0o644)


def deb(stage: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    stage.chmod(0o755)
    for top, dirs, files in os.walk(stage):  # whatever the umask: readable by mongodb
        for name in dirs:
            Path(top, name).chmod(0o755)
        for name in files:
            path = Path(top, name)
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)
    sh("dpkg-deb", "--root-owner-group", *DEB_COMPRESSION, "--build", str(stage), str(out))
    return out


def pip_target(target: Target) -> tuple[str, ...]:
    """pip's options that pick the wheels `target` runs (CPython, x86_64, any
    manylinux its glibc accepts) rather than the running Python's: the same as
    the MRQ wheelhouse's (mrq_lab.cluster's module_utils/wheelhouse.py)."""
    return tuple(wheelhouse.pip_target_options(wheelhouse.Target(target.python, "x86_64", target.glibc)))


def wheel_stamp(target: Target) -> str:
    """What the wheels downloaded for `target` depend on: the pins and the tags."""
    data = (HERE / "requirements.txt").read_bytes() + " ".join(pip_target(target)).encode()
    return hashlib.sha256(data).hexdigest()


def wheels(cache: Path, target: Target) -> Path:
    """Wheels of the stand-in's runtime for `target`, downloaded once (a directory per Python)."""
    stamp = wheel_stamp(target)
    wdir = cache / f"wheels-py{target.python}"
    if (wdir / ".stamp").exists() and (wdir / ".stamp").read_text() == stamp:
        return wdir
    shutil.rmtree(wdir, ignore_errors=True)
    req = HERE / "requirements.txt"
    pip = (sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--no-deps")
    sh(*pip, *pip_target(target), "-r", str(req), "-d", str(wdir))
    (wdir / ".stamp").write_text(stamp)
    return wdir


def runtime_package_version(wheel_dir: Path, target: Target) -> str:
    """SecantusDB's version plus a hash of everything the runtime package holds
    (its files, the wheels installed into SITE) and of build.py, which says how
    they are installed, and whether it holds startup .pyc: any change is a new
    version. The ~py suffix names the Python, so each release's runtime has its
    own file in the pool."""
    h = hashlib.sha256()
    for dest, src in [*RUNTIME_FILES.items(), ("build.py", "build.py")]:
        h.update(dest.encode() + (HERE / src).read_bytes())
    for whl in sorted(wheel_dir.glob("*.whl")):
        h.update(whl.name.encode() + whl.read_bytes())
    h.update(b"startup .pyc" if startup_pyc(target) else b"no .pyc")
    return f"0.7.0~b3+h{h.hexdigest()[:10]}~py{target.python}"


def stage_runtime(stage: Path, version: str, wheel_dir: Path, target: Target) -> None:
    """Lay out the runtime package (mongod.py, SecantusDB installed in SITE) for `target` in `stage`."""
    major, minor = map(int, target.python.split("."))
    values = {"runtime": RUNTIME, "version": version, "python": target.python}
    values["python_next"] = f"{major}.{minor + 1}"  # control: python3 (<< python_next)
    stage_files(stage, RUNTIME_FILES, values)
    install_site(stage / SITE, wheel_dir, stage / "usr/lib/mongodb-standin/mongod.py", target)


def startup_pyc(target: Target) -> bool:
    """Whether this script can compile the startup .pyc for `target`: it
    imports SITE's extension modules, so it must run with the target's Python."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}" == target.python and platform.machine() == "x86_64"


def install_site(site: Path, wheel_dir: Path, mongod: Path, target: Target) -> None:
    """Install requirements.txt from `wheel_dir` into `site` for `target`, leave
    out what never runs, byte-compile what `mongod` (mongod.py) imports at start
    when startup_pyc() allows."""
    req = HERE / "requirements.txt"
    pip = (sys.executable, "-m", "pip", *PIP_INSTALL, *pip_target(target))
    sh(*pip, "--find-links", str(wheel_dir), "--target", str(site), "-r", str(req))
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts, for this interpreter
    pth = sorted(p.name for p in site.glob("*.pth"))
    if pth:  # mongod.py's sys.path entry does not process them
        sys.exit(f"build.py: {', '.join(pth)} in the runtime: mongod.py would ignore them")
    for tests in sorted(p for p in site.glob("*/**/tests") if p.is_dir()):
        shutil.rmtree(tests, ignore_errors=True)  # nested ones go with their parent
    if not startup_pyc(target):
        print(
            f"build.py: runtime for Python {target.python} without startup .pyc "
            f"(this is Python {platform.python_version()}): each mongod start ~0.35 s slower",
            file=sys.stderr,
        )
        return
    site = site.resolve()  # as mongod.py sees it
    sh(sys.executable, "-I", "-S", "-B", "-c", COMPILE_STARTUP, str(mongod), str(site), "/" + SITE)


def runtime_deb(cache: Path, pool: Path, target: Target) -> tuple[Path, str]:
    """The runtime .deb for `target` in `pool` (built unless it is there); its version."""
    wdir = wheels(cache, target)
    version = runtime_package_version(wdir, target)
    path = pool / "m" / RUNTIME / f"{RUNTIME}_{version}_amd64.deb"
    if path.exists():
        return path, version
    with tempfile.TemporaryDirectory() as tmp:
        stage_runtime(Path(tmp), version, wdir, target)
        return deb(Path(tmp), path), version


def journal(series: str) -> str:
    """mongod.conf's storage.journal block: series before 6.1 ship it, 6.1
    removed the option."""
    return "  journal:\n    enabled: true\n" if tuple(map(int, series.split("."))) < (6, 1) else ""


def stage_mongodb_org(stage: Path, series: str, runtime_version: str) -> str:
    """Lay out mongodb-org for `series` in `stage`; returns its version."""
    version = VERSIONS[series] + SUFFIX
    values = {
        "version": version,
        "series": series,
        "runtime": RUNTIME,
        "runtime_version": runtime_version,
        "journal": journal(series),
    }
    stage_files(stage, MONGODB_ORG_FILES, values)
    write(stage / "usr/lib/mongodb-standin/series", series + "\n")
    write(stage / "usr/lib/mongodb-standin/version", version + "\n")
    return version


def mongodb_org_deb(series: str, runtime_version: str, pool: Path, release: str) -> Path:
    """mongodb-org of `series` for `release`: the same version in every release
    (as MongoDB's own repositories have it), so each release has its own directory."""
    with tempfile.TemporaryDirectory() as tmp:
        version = stage_mongodb_org(Path(tmp), series, runtime_version)
        return deb(Path(tmp), pool / "m/mongodb-org" / release / f"mongodb-org_{version}_amd64.deb")


def stop_agent(gnupg: Path) -> None:
    if gnupg.is_dir():
        subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "all"], capture_output=True)


def new_key(gnupg: Path) -> tuple[str, str]:
    stop_agent(gnupg)
    shutil.rmtree(gnupg, ignore_errors=True)
    gnupg.mkdir(mode=0o700, parents=True)
    env = {"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"}
    sh(
        "gpg",
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        "mrq-lab TEST STAND-IN repository <standin@invalid>",
        "ed25519",
        "sign",
        "never",  # a new key at every build
        env=env,
    )
    listing = sh("gpg", "--batch", "--with-colons", "--list-keys", env=env)
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return fpr, sh("gpg", "--batch", "--armor", "--export", fpr, env=env)


def write_suite(repo: Path, release: str, series: str, debs: list[Path], fpr: str, gnupg: Path) -> None:
    """Index `debs` as the suite <release>/mongodb-org/<series>, sign its Release with `fpr`."""
    suite = f"{release}/mongodb-org/{series}"
    dist = repo / "dists" / suite
    bindir = dist / "main/binary-amd64"
    bindir.mkdir(parents=True)
    packages = "".join(sh("apt-ftparchive", "packages", str(d.relative_to(repo)), cwd=repo) for d in debs)
    (bindir / "Packages").write_text(packages)
    (bindir / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
    release_file = sh(
        "apt-ftparchive",
        "-o",
        "APT::FTPArchive::Release::Origin=mrq-lab TEST STAND-IN",
        "-o",
        "APT::FTPArchive::Release::Label=mongodb-org stand-in",
        "-o",
        f"APT::FTPArchive::Release::Suite={suite}",
        "-o",
        f"APT::FTPArchive::Release::Codename={release}",
        "-o",
        "APT::FTPArchive::Release::Architectures=amd64",
        "-o",
        "APT::FTPArchive::Release::Components=main",
        "release",
        str(dist),
    )
    (dist / "Release").write_text(release_file)
    sign = ("gpg", "--batch", "--yes", "--local-user", fpr)
    env = {"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"}
    sh(*sign, "--clearsign", "-o", str(dist / "InRelease"), str(dist / "Release"), env=env)
    sh(*sign, "--armor", "--detach-sign", "-o", str(dist / "Release.gpg"), str(dist / "Release"), env=env)
    print(f"suite {suite}: {', '.join(d.name for d in debs)}")


def releases(parser: argparse.ArgumentParser, given: list[str] | None) -> list[str]:
    """The --release values in order, once each; refused or unknown ones stop the build."""
    wanted = list(dict.fromkeys(given or RELEASES))
    for release in wanted:
        if release in REFUSED:
            parser.error(f"--release {release}: {REFUSED[release]}")
        if release not in RELEASES:
            parser.error(f"--release {release}: the stand-in is built for {', '.join(RELEASES)} only")
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="served directory to write")
    parser.add_argument("--cache", type=Path, required=True, help="where wheels are kept")
    parser.add_argument(
        "--release", action="append", help=f"repeatable; {', '.join(RELEASES)} (default: all of them)"
    )
    parser.add_argument("--series", action="append", required=True, choices=list(VERSIONS))
    parser.add_argument("--newer-in-suite", action="store_true")
    args = parser.parse_args()
    wanted = releases(parser, args.release)

    args.cache.mkdir(parents=True, exist_ok=True)
    with open(args.cache / "build.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build_repository(args.out, args.cache, wanted, args.series, args.newer_in_suite)


def fingerprint(
    wanted: list[str], series: list[str], newer: bool, runtimes: dict[str, tuple[Path, str]]
) -> str:
    """What a repository is built from: the arguments, each runtime's version
    (its files, wheels and this script) and mongodb-org's files."""
    h = hashlib.sha256(
        repr((wanted, sorted(series), newer, sorted(v for _, v in runtimes.values()))).encode()
    )
    for dest, src in sorted(MONGODB_ORG_FILES.items()):
        h.update(dest.encode() + (HERE / src).read_bytes())
    return h.hexdigest()


def build_repository(out: Path, cache: Path, wanted: list[str], series: list[str], newer: bool) -> None:
    repo = out / "apt/debian"
    pool = repo / "pool/main"
    runtimes = {}  # Python -> (runtime .deb, its version)
    for release in wanted:
        target = RELEASES[release]
        if target.python not in runtimes:
            runtimes[target.python] = runtime_deb(cache, pool, target)
    stamp, key = out / ".built", out / "standin-key.asc"
    made_from = fingerprint(wanted, series, newer, runtimes)
    if stamp.is_file() and stamp.read_text() == made_from and key.is_file():
        print(
            f"up to date: {', '.join(wanted)}, series {', '.join(series)}, signed with the same key as before"
        )
        return
    stamp.unlink(missing_ok=True)  # an interrupted build is never up to date
    kept = {path for path, _ in runtimes.values()}
    for old in (pool / "m" / RUNTIME).glob("*.deb"):  # the pool holds what the suites list
        if old not in kept:
            old.unlink()
    shutil.rmtree(repo / "dists", ignore_errors=True)
    shutil.rmtree(pool / "m/mongodb-org", ignore_errors=True)
    gnupg = cache / "gnupg"
    fpr, public = new_key(gnupg)
    write(key, public)
    for release in wanted:
        runtime, runtime_version = runtimes[RELEASES[release].python]
        for one in series:
            debs = [runtime, mongodb_org_deb(one, runtime_version, pool, release)]
            if newer and one in NEXT:
                debs.append(mongodb_org_deb(NEXT[one], runtime_version, pool, release))
            write_suite(repo, release, one, debs, fpr, gnupg)
    stop_agent(gnupg)  # leave no gpg-agent behind
    write(stamp, made_from)
    print(f"signed with {fpr}; key at {key}")


if __name__ == "__main__":
    main()
