#!/usr/bin/env python3
"""Build the TEST STAND-IN `mongodb-org` apt repository (signed), laid out like
repo.mongodb.org, so the mongodb role's real install path runs unchanged.

NOT MongoDB: the packages install SecantusDB behind a `mongod` wrapper (see
README.standin). Output, under --out:

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
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


def sh(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if res.returncode != 0:
        sys.exit(f"build.py: {' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return res.stdout


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def deb(stage: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    sh("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", str(stage), str(out))
    return out


def wheels(cache: Path) -> Path:
    """Wheels of the stand-in's runtime, downloaded once (Python 3.11, like the hosts)."""
    req = HERE / "requirements.txt"
    stamp = hashlib.sha256(req.read_bytes()).hexdigest()
    wdir = cache / "wheels"
    if (wdir / ".stamp").exists() and (wdir / ".stamp").read_text() == stamp:
        return wdir
    if sys.version_info[:2] != (3, 11):
        sys.exit("build.py: run with Python 3.11 (the test hosts' Python) to fetch wheels")
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


def runtime_deb(cache: Path, pool: Path) -> tuple[Path, str]:
    wdir = wheels(cache)
    h = hashlib.sha256()
    for f in [HERE / "requirements.txt", HERE / "mongod.py", *sorted(wdir.glob("*.whl"))]:
        h.update(f.name.encode() + f.read_bytes())
    version = f"0.7.0~b3+h{h.hexdigest()[:10]}"
    target = pool / "m" / RUNTIME / f"{RUNTIME}_{version}_amd64.deb"
    if target.exists():
        return target, version
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        lib = stage / "usr/lib/mongodb-standin"
        (lib / "wheels").mkdir(parents=True)
        for whl in wdir.glob("*.whl"):
            shutil.copy(whl, lib / "wheels")
        shutil.copy(HERE / "requirements.txt", lib)
        shutil.copy(HERE / "mongod.py", lib)
        write(
            stage / "DEBIAN/control",
            (
                f"Package: {RUNTIME}\nVersion: {version}\nArchitecture: amd64\n"
                "Maintainer: mrq-lab tests <tests@invalid>\nDepends: python3 (>= 3.11), python3-venv\n"
                "Section: database\nPriority: optional\n"
                "Description: TEST STAND-IN runtime: SecantusDB in a venv (NOT MongoDB)\n"
                " Test-only. See /usr/share/doc/mongodb-org/README.standin.\n"
            ),
        )
        write(
            stage / "DEBIAN/postinst",
            (
                '#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
                "  rm -rf /usr/lib/mongodb-standin/venv\n"
                "  python3 -m venv /usr/lib/mongodb-standin/venv\n"
                "  /usr/lib/mongodb-standin/venv/bin/pip install --quiet --no-index"
                " --find-links /usr/lib/mongodb-standin/wheels -r /usr/lib/mongodb-standin/requirements.txt\n"
                "fi\n"
            ),
            0o755,
        )
        write(stage / "DEBIAN/prerm", "#!/bin/sh\nset -e\nrm -rf /usr/lib/mongodb-standin/venv\n", 0o755)
        for old in target.parent.glob("*.deb"):
            old.unlink()
        return deb(stage, target), version


def mongodb_org_deb(series: str, runtime_version: str, pool: Path) -> Path:
    version = VERSIONS[series] + SUFFIX
    journal = "  journal:\n    enabled: true\n" if tuple(map(int, series.split("."))) < (6, 1) else ""
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        write(
            stage / "usr/bin/mongod",
            (
                "#!/bin/sh\n# TEST STAND-IN: SecantusDB, not MongoDB\n"
                'exec /usr/lib/mongodb-standin/venv/bin/python /usr/lib/mongodb-standin/mongod.py "$@"\n'
            ),
            0o755,
        )
        write(stage / "usr/lib/mongodb-standin/series", series + "\n")
        write(stage / "usr/lib/mongodb-standin/version", version + "\n")
        write(stage / "lib/systemd/system/mongod.service", (HERE / "mongod.service").read_text())
        write(stage / "usr/share/doc/mongodb-org/README.standin", (HERE / "README.standin").read_text())
        # The package's own default config, as mongodb-org ships it.
        write(
            stage / "etc/mongod.conf",
            (
                "# mongod.conf (TEST STAND-IN package default)\nstorage:\n  dbPath: /var/lib/mongodb\n"
                f"{journal}systemLog:\n  destination: file\n  logAppend: true\n"
                "  path: /var/log/mongodb/mongod.log\nnet:\n  port: 27017\n  bindIp: 127.0.0.1\n"
            ),
        )
        write(stage / "DEBIAN/conffiles", "/etc/mongod.conf\n")
        write(
            stage / "DEBIAN/control",
            (
                f"Package: mongodb-org\nVersion: {version}\nArchitecture: amd64\n"
                "Maintainer: mrq-lab tests <tests@invalid>\n"
                f"Depends: {RUNTIME} (= {runtime_version})\nSection: database\nPriority: optional\n"
                f"Description: TEST STAND-IN for MongoDB {series} (SecantusDB, NOT MongoDB)\n"
                " Test-only package of mrq-lab. See /usr/share/doc/mongodb-org/README.standin.\n"
            ),
        )
        write(
            stage / "DEBIAN/postinst",
            (
                '#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
                "  getent group mongodb >/dev/null || groupadd --system mongodb\n"
                "  getent passwd mongodb >/dev/null || useradd --system --gid mongodb"
                " --home-dir /var/lib/mongodb --no-create-home --shell /usr/sbin/nologin mongodb\n"
                "  install -d -o mongodb -g mongodb -m 0755 /var/lib/mongodb /var/log/mongodb\n"
                "  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi\n"
                "fi\n"
            ),
            0o755,
        )
        return deb(stage, pool / "m/mongodb-org" / f"mongodb-org_{version}_amd64.deb")


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
