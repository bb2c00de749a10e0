"""Tests of the stand-in's package staging and repository layout.

Most need no network; the repository test needs gpg and apt-ftparchive. The
tests under "the real runtime" install the bookworm runtime for real from the
wheels in $MRQ_STANDIN_WHEELS (e.g. /var/cache/mrq-sandbox/mongodb-standin/
wheels-py3.11, which build.py fills) and run it with /usr/bin/python3; without
it they are skipped. The trixie runtime's tests download its wheels into
$MRQ_STANDIN_CACHE (build.py's --cache; a temporary directory if unset, reused
when already there) and are skipped when the package index cannot be reached.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location("standin_build", Path(__file__).with_name("build.py"))
assert _spec and _spec.loader
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

RUNTIME_VERSION = "0.7.0~b3+h0123456789~py3.11"
BOOKWORM = build.RELEASES["bookworm"]
TRIXIE = build.RELEASES["trixie"]


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    wdir = tmp_path / "wheels"
    wdir.mkdir()
    (wdir / "fake-1.0-py3-none-any.whl").write_bytes(b"not a wheel")
    return wdir


@pytest.fixture
def fake_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """install_site() without pip: one module in the site directory."""

    def install_site(site: Path, wheel_dir: Path, mongod: Path, target: build.Target) -> None:
        assert mongod.is_file()
        build.write(site / "fake/__init__.py", "")

    monkeypatch.setattr(build, "install_site", install_site)


def staged_org(tmp_path: Path, series: str) -> Path:
    stage = tmp_path / f"mongodb-org-{series}"
    build.stage_mongodb_org(stage, series, RUNTIME_VERSION)
    return stage


def test_mongod_conf_has_journal_only_before_6_1(tmp_path: Path) -> None:
    old = (staged_org(tmp_path, "3.4") / "etc/mongod.conf").read_text()
    new = (staged_org(tmp_path, "7.0") / "etc/mongod.conf").read_text()
    assert "  dbPath: /var/lib/mongodb\n  journal:\n    enabled: true\nsystemLog:\n" in old
    assert "journal" not in new
    assert "  dbPath: /var/lib/mongodb\nsystemLog:\n" in new
    assert "TEST STAND-IN" in old


def test_mongodb_org_control_names_series_version_and_runtime(tmp_path: Path) -> None:
    stage = staged_org(tmp_path, "3.4")
    control = (stage / "DEBIAN/control").read_text()
    assert "Version: 3.4.24+standin1\n" in control
    assert f"Depends: mongodb-standin-runtime (= {RUNTIME_VERSION})\n" in control
    assert "TEST STAND-IN for MongoDB 3.4 (SecantusDB, NOT MongoDB)" in control
    assert (stage / "usr/lib/mongodb-standin/version").read_text() == "3.4.24+standin1\n"
    assert (stage / "usr/lib/mongodb-standin/series").read_text() == "3.4\n"
    assert (stage / "DEBIAN/conffiles").read_text() == "/etc/mongod.conf\n"


@pytest.mark.parametrize("series", list(build.VERSIONS))
def test_every_series_version_carries_the_standin_suffix(tmp_path: Path, series: str) -> None:
    version = build.stage_mongodb_org(tmp_path, series, RUNTIME_VERSION)
    assert version == build.VERSIONS[series] + "+standin1"
    assert version.startswith(series + ".")


def test_scripts_are_executable_and_other_files_not(
    tmp_path: Path, wheel_dir: Path, fake_install: None
) -> None:
    org = staged_org(tmp_path, "8.0")
    runtime = tmp_path / "runtime"
    build.stage_runtime(runtime, RUNTIME_VERSION, wheel_dir, BOOKWORM)
    scripts = [
        org / "DEBIAN/postinst",
        *(org / "usr/bin" / t for t in ("mongod", "mongodump", "mongorestore")),
    ]
    for path in scripts:
        assert path.read_text().startswith("#!/bin/sh\n")
        assert path.stat().st_mode & 0o777 == 0o755, path
    plain = [p for p in [*org.rglob("*"), *runtime.rglob("*")] if p.is_file() and p not in scripts]
    assert plain
    for path in plain:
        assert path.stat().st_mode & 0o777 == 0o644, path


@pytest.mark.parametrize(
    ("release", "depends"),
    [
        ("bookworm", "python3 (>= 3.11), python3 (<< 3.12)"),
        ("trixie", "python3 (>= 3.13), python3 (<< 3.14)"),
    ],
)
def test_runtime_stage_holds_the_site_and_the_version(
    tmp_path: Path, wheel_dir: Path, fake_install: None, release: str, depends: str
) -> None:
    target = build.RELEASES[release]
    build.stage_runtime(tmp_path, RUNTIME_VERSION, wheel_dir, target)
    control = (tmp_path / "DEBIAN/control").read_text()
    assert f"Package: mongodb-standin-runtime\nVersion: {RUNTIME_VERSION}\n" in control
    assert f"Depends: {depends}\n" in control
    assert f"TEST STAND-IN runtime: SecantusDB for Python {target.python}" in control
    assert "(NOT MongoDB)" in control
    # Nothing to do on the host: no venv, no pip, no maintainer scripts.
    assert sorted(p.name for p in (tmp_path / "DEBIAN").iterdir()) == ["control"]
    lib = tmp_path / "usr/lib/mongodb-standin"
    assert (lib / "site/fake/__init__.py").is_file()
    assert not (lib / "wheels").exists()
    assert (lib / "mongod.py").read_bytes() == (build.HERE / "mongod.py").read_bytes()


def test_mongod_wrapper_runs_the_system_python_isolated(tmp_path: Path) -> None:
    wrapper = (staged_org(tmp_path, "3.4") / "usr/bin/mongod").read_text()
    assert "TEST STAND-IN" in wrapper
    assert "venv" not in wrapper
    command = 'exec /usr/bin/python3 -I -S -B /usr/lib/mongodb-standin/mongod.py "$@"\n'
    assert wrapper.endswith(command)


@pytest.mark.parametrize(
    "changed", ["debian/runtime/control.in", "requirements.txt", "mongod.py", "build.py"]
)
def test_runtime_version_changes_with_any_file_of_the_package(
    tmp_path: Path, wheel_dir: Path, monkeypatch: pytest.MonkeyPatch, changed: str
) -> None:
    here = tmp_path / "here"
    shutil.copytree(build.HERE, here, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(build, "HERE", here)
    before = build.runtime_package_version(wheel_dir, BOOKWORM)
    assert before.startswith("0.7.0~b3+h")
    assert build.runtime_package_version(wheel_dir, BOOKWORM) == before
    with open(here / changed, "a") as f:
        f.write("# changed\n")
    assert build.runtime_package_version(wheel_dir, BOOKWORM) != before


def test_runtime_version_changes_with_the_wheels(tmp_path: Path, wheel_dir: Path) -> None:
    before = build.runtime_package_version(wheel_dir, BOOKWORM)
    (wheel_dir / "fake-1.0-py3-none-any.whl").write_bytes(b"another wheel")
    assert build.runtime_package_version(wheel_dir, BOOKWORM) != before


def test_runtime_version_names_its_python(wheel_dir: Path) -> None:
    bookworm = build.runtime_package_version(wheel_dir, BOOKWORM)
    trixie = build.runtime_package_version(wheel_dir, TRIXIE)
    assert bookworm.endswith("~py3.11") and trixie.endswith("~py3.13")
    assert bookworm.startswith("0.7.0~b3+h") and trixie.startswith("0.7.0~b3+h")


def test_pip_picks_wheels_for_the_target_not_this_python() -> None:
    options = build.pip_target(TRIXIE)
    assert options[:6] == ("--python-version", "3.13", "--implementation", "cp", "--abi", "cp313")
    platforms = [options[i + 1] for i, o in enumerate(options) if o == "--platform"]
    assert platforms[0] == "manylinux_2_41_x86_64"  # trixie's glibc
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= set(platforms)
    assert "manylinux_2_42_x86_64" not in platforms
    bookworm = build.pip_target(BOOKWORM)
    assert "cp311" in bookworm and "manylinux_2_36_x86_64" in bookworm
    assert "manylinux_2_37_x86_64" not in bookworm


def test_wheels_are_kept_per_python(tmp_path: Path) -> None:
    assert build.wheel_stamp(BOOKWORM) != build.wheel_stamp(TRIXIE)
    for target in (BOOKWORM, TRIXIE):
        wdir = tmp_path / f"wheels-py{target.python}"
        wdir.mkdir()
        (wdir / ".stamp").write_text(build.wheel_stamp(target))
        assert build.wheels(tmp_path, target) == wdir  # stamped: no download


def run_build(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(build.HERE / "build.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_bullseye_is_refused_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = ["--out", out, "--cache", tmp_path / "cache", "--series", "3.4"]
    res = run_build(*common, "--release", "bookworm", "--release", "bullseye")
    assert res.returncode == 2
    reason = "bullseye ships Python 3.9; SecantusDB 0.7.0b3 needs Python >= 3.10"
    assert f"--release bullseye: {reason}" in res.stderr
    assert not out.exists()
    unknown = run_build(*common, "--release", "sid")
    assert unknown.returncode == 2
    assert "--release sid: the stand-in is built for bookworm, trixie only" in unknown.stderr


needs_repository_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dpkg-deb", "apt-ftparchive", "gpg")),
    reason="needs dpkg-deb, apt-ftparchive and gpg",
)


def stanzas(packages: Path) -> list[dict[str, str]]:
    """The fields of a Packages file (first lines only), one dict per package."""
    return [
        dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line)
        for stanza in packages.read_text().strip().split("\n\n")
    ]


@needs_repository_tools
def test_repository_has_each_releases_suites_and_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_install: None
) -> None:
    """Both releases' suites, each listing the runtime for its Python and a
    mongodb-org that depends on it; a later build for one release leaves the
    other's runtime out of the pool."""

    def wheels(cache: Path, target: build.Target) -> Path:
        wdir = cache / f"wheels-py{target.python}"
        build.write(wdir / f"fake-1.0-cp{target.python.replace('.', '')}-none-any.whl", target.python)
        return wdir

    monkeypatch.setattr(build, "wheels", wheels)
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["build.py", "--out", str(out), "--cache", str(cache), "--series", "4.4", "--newer-in-suite"]
    monkeypatch.setattr(sys, "argv", [*args, "--release", "bookworm", "--release", "trixie"])
    build.main()
    repo = out / "apt/debian"
    runtimes = {}
    for release, python in [("bookworm", "3.11"), ("trixie", "3.13")]:
        dist = repo / "dists" / release / "mongodb-org/4.4"
        assert f"Codename: {release}\n" in (dist / "Release").read_text()
        assert (dist / "InRelease").read_text().startswith("-----BEGIN PGP SIGNED MESSAGE-----")
        runtime, *orgs = stanzas(dist / "main/binary-amd64/Packages")
        assert runtime["Package"] == "mongodb-standin-runtime"
        assert runtime["Version"].endswith(f"~py{python}")
        assert runtime["Depends"] == f"python3 (>= {python}), python3 (<< 3.{int(python[2:]) + 1})"
        assert [o["Version"] for o in orgs] == ["4.4.29+standin1", "5.0.31+standin1"]
        for org in orgs:
            assert org["Depends"] == f"mongodb-standin-runtime (= {runtime['Version']})"
            assert org["Filename"].startswith(f"pool/main/m/mongodb-org/{release}/")
            assert (repo / org["Filename"]).is_file()
        runtimes[release] = repo / runtime["Filename"]
    assert len(set(runtimes.values())) == 2
    assert all(path.is_file() for path in runtimes.values())
    monkeypatch.setattr(sys, "argv", [*args, "--release", "bookworm"])
    build.main()
    assert sorted((repo / "dists").iterdir()) == [repo / "dists/bookworm"]
    assert sorted((repo / "pool/main/m/mongodb-standin-runtime").iterdir()) == [runtimes["bookworm"]]
    assert sorted((repo / "pool/main/m/mongodb-org").iterdir()) == [repo / "pool/main/m/mongodb-org/bookworm"]


@needs_repository_tools
def test_a_build_asked_again_keeps_the_repository_and_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_install: None
) -> None:
    """Hosts of one scenario keep trusting the repository while another scenario
    asks for the same build; a build of something else signs with a new key."""

    def wheels(cache: Path, target: build.Target) -> Path:
        wdir = cache / f"wheels-py{target.python}"
        build.write(wdir / "fake-1.0-py3-none-any.whl", "1")
        return wdir

    monkeypatch.setattr(build, "wheels", wheels)
    out = tmp_path / "out"
    args = ["build.py", "--out", str(out), "--cache", str(tmp_path / "cache"), "--release", "bookworm"]
    in_release = out / "apt/debian/dists/bookworm/mongodb-org/3.4/InRelease"

    def built(*series: str) -> tuple[str, int]:
        monkeypatch.setattr(sys, "argv", [*args, *(a for s in series for a in ("--series", s))])
        build.main()
        return (out / "standin-key.asc").read_text(), in_release.stat().st_mtime_ns

    first = built("3.4")
    assert built("3.4") == first
    key, _ = built("3.4", "4.4")
    assert key != first[0]
    assert (out / "apt/debian/dists/bookworm/mongodb-org/4.4/InRelease").is_file()
    (out / ".built").write_text("an interrupted build")
    assert built("3.4", "4.4")[0] != key


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb")
def test_mongodb_org_deb_builds(tmp_path: Path) -> None:
    deb = build.mongodb_org_deb("4.4", RUNTIME_VERSION, tmp_path, "trixie")
    assert (
        deb.relative_to(tmp_path).as_posix() == "m/mongodb-org/trixie/mongodb-org_4.4.29+standin1_amd64.deb"
    )
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version", "Depends"], capture_output=True, text=True
    )
    depends = f"mongodb-standin-runtime (= {RUNTIME_VERSION})"
    assert fields.stdout == f"Version: 4.4.29+standin1\nDepends: {depends}\n"


# ------------------------------------------- the real runtime (needs wheels)


def wheels_or_skip() -> Path:
    wdir = Path(os.environ.get("MRQ_STANDIN_WHEELS", ""))
    if not os.environ.get("MRQ_STANDIN_WHEELS") or not any(wdir.glob("*.whl")):
        pytest.skip("needs wheels: set MRQ_STANDIN_WHEELS to a directory build.py filled")
    stamp = wdir / ".stamp"
    if stamp.exists() and stamp.read_text() != build.wheel_stamp(BOOKWORM):
        pytest.skip(f"the wheels in {wdir} are not bookworm's for this requirements.txt")
    if sys.version_info[:2] != (3, 11) or not Path("/usr/bin/python3").exists():
        pytest.skip("needs Python 3.11 here and in /usr/bin/python3, like the hosts")
    return wdir


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host's view of both packages: runtime and mongodb-org 3.4 staged into
    one tree, the wrapper pointed at it (it names /usr/lib/mongodb-standin)."""
    wdir = wheels_or_skip()
    root = tmp_path_factory.mktemp("host")
    build.stage_runtime(root, RUNTIME_VERSION, wdir, BOOKWORM)
    build.stage_mongodb_org(root, "3.4", RUNTIME_VERSION)
    wrapper = root / "usr/bin/mongod"
    lib = str(root / "usr/lib/mongodb-standin")
    wrapper.write_text(wrapper.read_text().replace("/usr/lib/mongodb-standin", lib))
    return root


def site_of(root: Path) -> Path:
    return root / build.SITE


def python3(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/usr/bin/python3", *args], capture_output=True, text=True, timeout=60)


def test_real_site_imports_with_the_system_python_and_no_venv(root: Path) -> None:
    site = site_of(root)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import secantus, pymongo, bson, yaml; "
        "print(secantus.__file__, pymongo.__file__, bson.__file__, yaml.__file__)"
    )
    res = python3("-I", "-c", code, str(site))
    assert res.returncode == 0, res.stderr
    files = res.stdout.split()
    assert len(files) == 4
    for file in files:
        assert Path(file).is_relative_to(site), file
    assert not (root / "usr/lib/mongodb-standin/venv").exists()
    assert not (site / "bin").exists()
    assert not list(site.glob("*.pth"))


def test_real_site_has_no_tests_and_compiled_startup_modules(root: Path) -> None:
    site = site_of(root)
    assert (site / "numpy/_core").is_dir()
    assert not [p for p in site.glob("*/**/tests") if p.is_dir()]
    pyc = site / "secantus/__pycache__/server.cpython-311.pyc"
    data = pyc.read_bytes()
    assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, source unchecked
    assert marshal.loads(data[16:]).co_filename == "/usr/lib/mongodb-standin/site/secantus/server.py"


def test_real_mongod_wrapper_reports_its_version_and_writes_no_pyc(root: Path) -> None:
    site = site_of(root)
    before = sorted(site.rglob("*.pyc"))
    res = subprocess.run(
        [str(root / "usr/bin/mongod"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent"},
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "db version v3.4.24+standin1 (TEST STAND-IN: SecantusDB, not MongoDB)\n"
    assert sorted(site.rglob("*.pyc")) == before


def test_real_mongod_serves_a_ping(root: Path, tmp_path: Path, loopback_mongod: Any) -> None:
    with loopback_mongod([str(root / "usr/bin/mongod")], tmp_path) as server:
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import pymongo; "
            "c = pymongo.MongoClient(port=int(sys.argv[2]), serverSelectionTimeoutMS=20000); "
            "print(c.admin.command('ping')['ok'])"
        )
        res = python3("-I", "-S", "-c", code, str(site_of(root)), str(server.port))
        assert res.returncode == 0, res.stderr + server.log.read_text()
        assert res.stdout == "1.0\n"
    assert server.proc.returncode == 0
    log = (tmp_path / "mongod.log").read_text()
    assert "TEST STAND-IN: SecantusDB speaking for mongod 3.4.24+standin1" in log


def run_tool(root: Path, tool: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    wrapper = root / "usr/bin" / tool
    text = wrapper.read_text().replace("/usr/lib/mongodb-standin", str(root / "usr/lib/mongodb-standin"))
    local = root / f"{tool}.local"
    local.write_text(text)
    local.chmod(0o755)
    return subprocess.run([str(local), *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_real_mongodump_and_mongorestore_bring_a_dropped_database_back(
    root: Path, tmp_path: Path, loopback_mongod: Any
) -> None:
    """Documents, a TTL index and a unique index come back after the database is
    dropped; the password is read from stdin; --nsInclude leaves other databases."""
    auth = {"security": {"authorization": "enabled"}}
    with loopback_mongod([str(root / "usr/bin/mongod")], tmp_path, auth) as server:
        code = (
            "import sys, datetime; sys.path.insert(0, sys.argv[1]); import pymongo; "
            "c = pymongo.MongoClient(port=int(sys.argv[2]), serverSelectionTimeoutMS=20000); "
            "c.admin.command('createUser', 'root', pwd='root-pw-1234', roles=['root']); "
            "c = pymongo.MongoClient(port=int(sys.argv[2]), username='root', password='root-pw-1234'); "
            "c.admin.command('createUser', 'bk', pwd='bk-pw-1234', roles=['backup']); "
            "j = c.mrq.mrq_jobs; j.create_index('dateexpires', expireAfterSeconds=0); "
            "j.create_index([('status', 1), ('queue', 1)], unique=True, name='sq'); "
            "j.insert_many([{'_id': i, 'status': 'queued', 'queue': 'q%d' % i} for i in range(2500)]); "
            "c.other.keep.insert_one({'x': 1})"
        )
        res = python3("-I", "-S", "-c", code, str(site_of(root)), str(server.port))
        assert res.returncode == 0, res.stderr + server.log.read_text()
        archive = tmp_path / "mrq.archive.gz"
        conn = ["--host", "127.0.0.1", "--port", str(server.port), "--authenticationDatabase", "admin"]
        as_backup = [*conn, "--username", "bk", "--db", "mrq"]
        dump = run_tool(root, "mongodump", *as_backup, f"--archive={archive}", "--gzip", stdin="bk-pw-1234\n")
        assert dump.returncode == 0, dump.stderr
        assert "done dumping mrq.mrq_jobs (2500 documents)" in dump.stderr
        assert archive.read_bytes()[:2] == b"\x1f\x8b"
        wrong = run_tool(
            root, "mongodump", *as_backup, f"--archive={tmp_path / 'x'}", stdin="wrong-password\n"
        )
        assert wrong.returncode != 0
        assert wrong.stderr.splitlines()[-1].startswith("Failed: authentication failed")
        (tmp_path / "damaged.gz").write_text("not a dump")
        damaged = run_tool(root, "mongorestore", *conn, "--archive", str(tmp_path / "damaged.gz"), "--gzip")
        assert damaged.returncode == 1
        assert damaged.stderr.startswith("Failed: Not a gzipped file"), damaged.stderr
        check = (
            "import sys; sys.path.insert(0, sys.argv[1]); import pymongo; "
            "c = pymongo.MongoClient(port=int(sys.argv[2]), username='root', password='root-pw-1234'); "
            "c.mrq.mrq_jobs.insert_one({'_id': 'after', 'status': 'x', 'queue': 'y'}); "
            "c.other.keep.insert_one({'x': 2}); c.drop_database('mrq') if sys.argv[3] == 'drop' else None; "
            "ix = c.mrq.mrq_jobs.index_information(); "
            "print(c.mrq.mrq_jobs.count_documents({}), c.other.keep.count_documents({}), "
            "ix.get('dateexpires_1', {}).get('expireAfterSeconds'), ix.get('sq', {}).get('unique'))"
        )
        res = python3("-I", "-S", "-c", check, str(site_of(root)), str(server.port), "drop")
        assert res.stdout.split()[:2] == ["0", "2"], res.stderr
        restore = run_tool(
            root,
            "mongorestore",
            *conn,
            "--username",
            "root",
            f"--archive={archive}",
            "--gzip",
            "--drop",
            "--nsInclude",
            "mrq.*",
            stdin="root-pw-1234\n",
        )
        assert restore.returncode == 0, restore.stderr
        assert "2500 document(s) restored successfully" in restore.stderr
        res = python3("-I", "-S", "-c", check, str(site_of(root)), str(server.port), "keep")
        # 2500 restored + the one inserted by the check itself; other.keep untouched (3 now).
        assert res.stdout.split() == ["2501", "3", "0", "True"], res.stderr


def test_real_mongod_rotates_its_log_on_sigusr1(root: Path, tmp_path: Path, loopback_mongod: Any) -> None:
    """As logrotate does: move the file away, signal; mongod keeps running and
    writes to a new file at the configured path."""
    settings = {"systemLog": {"logAppend": True, "logRotate": "reopen"}}
    with loopback_mongod([str(root / "usr/bin/mongod")], tmp_path, settings) as server:
        log = server.log
        for _ in range(300):
            if "waiting for connections" in (log.read_text() if log.exists() else ""):
                break
            time.sleep(0.1)
        log.rename(tmp_path / "mongod.log.1")
        server.proc.send_signal(signal.SIGUSR1)
        for _ in range(100):
            if log.exists():
                break
            time.sleep(0.1)
        assert server.proc.poll() is None
        assert "log rotated (SIGUSR1, logRotate reopen)" in log.read_text()
        assert "waiting for connections" in (tmp_path / "mongod.log.1").read_text()
        assert "log rotated" not in (tmp_path / "mongod.log.1").read_text()


def test_real_mongod_serves_tls_only_on_every_address(
    root: Path, tmp_path: Path, loopback_mongod: Any
) -> None:
    """requireSSL with allowConnectionsWithoutCertificates (what the mongodb role
    writes for 3.4; net.tls from 4.2), a certificate for the network address only
    (127.0.0.2 here): a client trusting the CA pings there, and on loopback only
    when it skips the name check (as the role's tools do); a plain client and one
    trusting another CA get nothing; mongodump and mongorestore work over TLS."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    import pki

    ca = pki.make_ca(tmp_path / "ca")
    crt, key = pki.make_cert(ca, tmp_path / "server", ["127.0.0.2"])
    other = pki.make_ca(tmp_path / "other")
    pem = tmp_path / "mongod.pem"
    pem.write_text(crt.read_text() + key.read_text())
    tls = {"mode": "requireSSL", "PEMKeyFile": str(pem), "CAFile": str(ca.cert),
           "allowConnectionsWithoutCertificates": True}  # fmt: skip
    settings = {"net": {"bindIp": "127.0.0.1,127.0.0.2", "ssl": tls}}
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import pymongo; "
        "c = pymongo.MongoClient(sys.argv[2], int(sys.argv[3]), serverSelectionTimeoutMS=3000, "
        "**json.loads(sys.argv[4])); c.mrq.jobs.insert_one({'tls': True}); "
        "print(c.admin.command('ping')['ok'])"
    )

    def ping(host: str, port: int, **options: Any) -> subprocess.CompletedProcess[str]:
        return python3("-I", "-S", "-c", code, str(site_of(root)), host, str(port), json.dumps(options))

    trusting = {"tls": True, "tlsCAFile": str(ca.cert)}
    with loopback_mongod([str(root / "usr/bin/mongod")], tmp_path, settings) as server:
        res = ping("127.0.0.2", server.port, **trusting)
        assert res.stdout == "1.0\n", res.stderr + server.log.read_text()
        wrong_name = ping("127.0.0.1", server.port, **trusting)
        assert wrong_name.returncode != 0 and "127.0.0.1" in wrong_name.stderr
        res = ping("127.0.0.1", server.port, **trusting, tlsAllowInvalidHostnames=True)
        assert res.stdout == "1.0\n", res.stderr
        for host in ("127.0.0.1", "127.0.0.2"):
            plain = ping(host, server.port)
            assert plain.returncode != 0 and "ServerSelectionTimeoutError" in plain.stderr
            untrusted = ping(host, server.port, tls=True, tlsCAFile=str(other.cert))
            assert untrusted.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        conn = ["--host", "127.0.0.1", "--port", str(server.port)]
        tool_tls = ["--ssl", f"--sslCAFile={ca.cert}", "--sslAllowInvalidHostnames"]
        archive = f"--archive={tmp_path / 'mrq.archive'}"
        dump = run_tool(root, "mongodump", *conn, *tool_tls, "--db", "mrq", archive)
        assert dump.returncode == 0 and "(2 documents)" in dump.stderr, dump.stderr
        restore = run_tool(root, "mongorestore", *conn, *tool_tls, archive, "--drop")
        assert restore.returncode == 0, restore.stderr
        assert run_tool(root, "mongodump", *conn, "--db", "mrq", archive).returncode != 0  # plain
    assert "TLS only" in server.log.read_text()


@pytest.mark.parametrize(
    ("net", "error"),
    [
        ({"ssl": {"mode": "preferSSL", "PEMKeyFile": "/k", "CAFile": "/c"}}, "requireTLS"),
        ({"ssl": {"mode": "requireSSL", "CAFile": "/c"}}, "needs a certificate"),
        ({"tls": {"mode": "requireTLS", "certificateKeyFile": "/k", "CAFile": "/c"}}, "has no net.tls"),
        ({"ssl": {"mode": "requireSSL", "PEMKeyFile": "/k"}}, "chain of trust"),
    ],
)
def test_real_mongod_refuses_tls_it_cannot_serve(
    root: Path, tmp_path: Path, loopback_mongod: Any, net: dict[str, Any], error: str
) -> None:
    with loopback_mongod([str(root / "usr/bin/mongod")], tmp_path, {"net": net}) as server:
        assert server.proc.wait(timeout=60) == 2
    assert error in server.log.read_text()


# ------------------------------- the real trixie runtime (downloads wheels)


def index_reachable() -> bool:
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/secantusdb/", timeout=15):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def trixie_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trixie runtime staged from cp313 wheels (downloaded unless cached)."""
    cache = Path(os.environ.get("MRQ_STANDIN_CACHE") or tmp_path_factory.mktemp("cache"))
    stamp = cache / f"wheels-py{TRIXIE.python}/.stamp"
    cached = stamp.exists() and stamp.read_text() == build.wheel_stamp(TRIXIE)
    if not cached and not index_reachable():
        pytest.skip("needs the package index (PyPI) for the cp313 wheels")
    wdir = build.wheels(cache, TRIXIE)
    root = tmp_path_factory.mktemp("trixie")
    build.stage_runtime(root, build.runtime_package_version(wdir, TRIXIE), wdir, TRIXIE)
    return root


def test_real_trixie_site_holds_cp313_files_and_no_pyc(trixie_root: Path) -> None:
    site = site_of(trixie_root)
    control = (trixie_root / "DEBIAN/control").read_text()
    assert "Depends: python3 (>= 3.13), python3 (<< 3.14)\n" in control
    assert "~py3.13\n" in control
    extensions = sorted(p.name for p in site.rglob("*.cpython-*.so"))
    assert any(name.startswith("_multiarray_umath.cpython-313-") for name in extensions)  # numpy
    assert all(".cpython-313-x86_64-linux-gnu.so" in name for name in extensions), extensions
    # Only a build by Python 3.13 can compile them (this one's is 3.11: none).
    assert bool(list(site.rglob("*.pyc"))) == build.startup_pyc(TRIXIE)
    assert not [p for p in site.glob("*/**/tests") if p.is_dir()]


def python313() -> str:
    python = shutil.which("python3.13")
    if not python or subprocess.run([python, "-c", ""], capture_output=True).returncode != 0:
        pytest.skip("needs a CPython 3.13 as python3.13 on PATH")
    return python


def test_real_trixie_runtime_serves_a_ping_with_python_3_13(
    trixie_root: Path, tmp_path: Path, loopback_mongod: Any
) -> None:
    """Not a trixie host (that is the sandbox's job): a CPython 3.13 here runs
    the cp313 site, isolated as the wrapper runs it."""
    python = python313()
    build.stage_mongodb_org(trixie_root, "7.0", "0")
    mongod = [python, "-I", "-S", "-B", str(trixie_root / "usr/lib/mongodb-standin/mongod.py")]
    version = subprocess.run([*mongod, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout == "db version v7.0.16+standin1 (TEST STAND-IN: SecantusDB, not MongoDB)\n"
    with loopback_mongod(mongod, tmp_path) as server:
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import numpy, shapely, pymongo; "
            "c = pymongo.MongoClient(port=int(sys.argv[2]), serverSelectionTimeoutMS=20000); "
            "print(c.admin.command('ping')['ok'], numpy.__file__.startswith(sys.argv[1]))"
        )
        res = subprocess.run(
            [python, "-I", "-S", "-c", code, str(site_of(trixie_root)), str(server.port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.stdout == "1.0 True\n", res.stderr + server.log.read_text()
    assert server.proc.returncode == 0
