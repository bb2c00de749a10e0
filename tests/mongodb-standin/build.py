#!/usr/bin/env python3
"""Build the TEST STAND-IN `mongodb-org` apt repository (signed), laid out like
repo.mongodb.org, so the mongodb role's real install path runs unchanged.

NOT MongoDB: the packages install SecantusDB behind a `mongod` wrapper (see
README.standin). The packages' files are under debian/ (RUNTIME_FILES and
MONGODB_ORG_FILES below say where each goes). Output, under --out:

  apt/debian/dists/<release>/mongodb-org/<series>/{InRelease,Release,Release.gpg}
  apt/debian/dists/<release>/mongodb-org/<series>/main/binary-amd64/Packages(.gz)
  apt/debian/pool/main/m/...                       the .deb files
  standin-key.asc                                  the public key (new every build)

--newer-in-suite also puts the next series' mongodb-org into each suite, so
tests can prove that the role's pin keeps a routine upgrade on its series.
"""

from __future__ import annotations

import argparse
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

HERE = Path(__file__).resolve().parent
RUNTIME = "mongodb-standin-runtime"
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
# installed here from the wheels into SITE for the hosts' /usr/bin/python3
# (3.11 on bookworm, the Python this script must run with), so a host only
# unpacks files: no venv, no pip, no maintainer scripts. mongod.py puts SITE
# first on sys.path. Unpacking costs about a millisecond per file on a host,
# so SITE leaves out the packages' tests/ directories, and holds .pyc only for
# the modules a mongod start imports (the mongodb user cannot write
# __pycache__ under /usr/lib; without them every start takes ~0.35 s longer).
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


def need_host_python(what: str) -> None:
    if sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64":
        sys.exit(f"build.py: run with Python 3.11 on x86_64 (the test hosts' Python) to {what}")


def wheels(cache: Path) -> Path:
    """Wheels of the stand-in's runtime, downloaded once (Python 3.11, like the hosts)."""
    req = HERE / "requirements.txt"
    stamp = hashlib.sha256(req.read_bytes()).hexdigest()
    wdir = cache / "wheels"
    if (wdir / ".stamp").exists() and (wdir / ".stamp").read_text() == stamp:
        return wdir
    need_host_python("fetch wheels")
    shutil.rmtree(wdir, ignore_errors=True)
    sh(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--no-deps",
        "-r",
        str(req),
        "-d",
        str(wdir),
    )
    (wdir / ".stamp").write_text(stamp)
    return wdir


def runtime_package_version(wheel_dir: Path) -> str:
    """SecantusDB's version plus a hash of everything the runtime package holds
    (its files, the wheels installed into SITE) and of build.py, which says how
    they are installed: any change is a new version."""
    h = hashlib.sha256()
    for dest, src in [*RUNTIME_FILES.items(), ("build.py", "build.py")]:
        h.update(dest.encode() + (HERE / src).read_bytes())
    for whl in sorted(wheel_dir.glob("*.whl")):
        h.update(whl.name.encode() + whl.read_bytes())
    return f"0.7.0~b3+h{h.hexdigest()[:10]}"


def stage_runtime(stage: Path, version: str, wheel_dir: Path) -> None:
    """Lay out the runtime package (mongod.py, SecantusDB installed in SITE) in `stage`."""
    stage_files(stage, RUNTIME_FILES, {"runtime": RUNTIME, "version": version})
    install_site(stage / SITE, wheel_dir, stage / "usr/lib/mongodb-standin/mongod.py")


def install_site(site: Path, wheel_dir: Path, mongod: Path) -> None:
    """Install requirements.txt from `wheel_dir` into `site`, leave out what
    never runs, byte-compile what `mongod` (mongod.py) imports at start."""
    need_host_python("install the runtime")
    req = HERE / "requirements.txt"
    pip = (sys.executable, "-m", "pip", *PIP_INSTALL)
    sh(*pip, "--find-links", str(wheel_dir), "--target", str(site), "-r", str(req))
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts, for this interpreter
    pth = sorted(p.name for p in site.glob("*.pth"))
    if pth:  # mongod.py's sys.path entry does not process them
        sys.exit(f"build.py: {', '.join(pth)} in the runtime: mongod.py would ignore them")
    for tests in sorted(p for p in site.glob("*/**/tests") if p.is_dir()):
        shutil.rmtree(tests, ignore_errors=True)  # nested ones go with their parent
    site = site.resolve()  # as mongod.py sees it
    sh(sys.executable, "-I", "-S", "-B", "-c", COMPILE_STARTUP, str(mongod), str(site), "/" + SITE)


def runtime_deb(cache: Path, pool: Path) -> tuple[Path, str]:
    wdir = wheels(cache)
    version = runtime_package_version(wdir)
    target = pool / "m" / RUNTIME / f"{RUNTIME}_{version}_amd64.deb"
    if target.exists():
        return target, version
    with tempfile.TemporaryDirectory() as tmp:
        stage_runtime(Path(tmp), version, wdir)
        for old in target.parent.glob("*.deb"):
            old.unlink()
        return deb(Path(tmp), target), version


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


def mongodb_org_deb(series: str, runtime_version: str, pool: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        version = stage_mongodb_org(Path(tmp), series, runtime_version)
        return deb(Path(tmp), pool / "m/mongodb-org" / f"mongodb-org_{version}_amd64.deb")


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="served directory to write")
    parser.add_argument("--cache", type=Path, required=True, help="where wheels are kept")
    parser.add_argument("--release", default="bookworm")
    parser.add_argument("--series", action="append", required=True, choices=list(VERSIONS))
    parser.add_argument("--newer-in-suite", action="store_true")
    args = parser.parse_args()

    repo = args.out / "apt/debian"
    pool = repo / "pool/main"
    runtime, runtime_version = runtime_deb(args.cache, pool)
    shutil.rmtree(repo / "dists", ignore_errors=True)
    for old in (pool / "m/mongodb-org").glob("*.deb"):
        old.unlink()
    gnupg = args.cache / "gnupg"
    fpr, public = new_key(gnupg)
    write(args.out / "standin-key.asc", public)
    env = {"GNUPGHOME": str(gnupg), "PATH": "/usr/bin:/bin"}
    for series in args.series:
        debs = [runtime, mongodb_org_deb(series, runtime_version, pool)]
        if args.newer_in_suite and series in NEXT:
            debs.append(mongodb_org_deb(NEXT[series], runtime_version, pool))
        suite = f"{args.release}/mongodb-org/{series}"
        dist = repo / "dists" / suite
        bindir = dist / "main/binary-amd64"
        bindir.mkdir(parents=True)
        packages = "".join(sh("apt-ftparchive", "packages", str(d.relative_to(repo)), cwd=repo) for d in debs)
        (bindir / "Packages").write_text(packages)
        (bindir / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
        release = sh(
            "apt-ftparchive",
            "-o",
            "APT::FTPArchive::Release::Origin=mrq-lab TEST STAND-IN",
            "-o",
            "APT::FTPArchive::Release::Label=mongodb-org stand-in",
            "-o",
            f"APT::FTPArchive::Release::Suite={suite}",
            "-o",
            f"APT::FTPArchive::Release::Codename={args.release}",
            "-o",
            "APT::FTPArchive::Release::Architectures=amd64",
            "-o",
            "APT::FTPArchive::Release::Components=main",
            "release",
            str(dist),
        )
        (dist / "Release").write_text(release)
        sign = ("gpg", "--batch", "--yes", "--local-user", fpr)
        sh(*sign, "--clearsign", "-o", str(dist / "InRelease"), str(dist / "Release"), env=env)
        sh(*sign, "--armor", "--detach-sign", "-o", str(dist / "Release.gpg"), str(dist / "Release"), env=env)
        print(f"suite {suite}: {', '.join(d.name for d in debs)}")
    stop_agent(gnupg)  # leave no gpg-agent behind
    print(f"signed with {fpr}; key at {args.out / 'standin-key.asc'}")


if __name__ == "__main__":
    main()
