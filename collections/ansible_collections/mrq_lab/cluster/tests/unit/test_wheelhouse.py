"""The wheelhouse per target: tags from glibc and architecture, the lock's pins per
Python, which wheels a target takes, pip's command lines, the fallback to a pure
source build; and once for real against PyPI (skipped when PyPI is out of reach)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from ansible_collections.mrq_lab.cluster.plugins.module_utils.wheelhouse import (
    Target,
    WheelhouseError,
    build,
    build_app,
    build_command,
    download_command,
    fetch,
    fits,
    is_pure,
    pins,
    unmet,
    write_archive,
)

REPO = Path(__file__).resolve().parents[6]
LOCK = (REPO / "app/requirements.lock").read_text()
APP = REPO / "app"

DEBIAN_11 = Target("3.9", "x86_64", "2.31")
DEBIAN_12 = Target("3.11", "x86_64", "2.36")
DEBIAN_13 = Target("3.13", "x86_64", "2.41")
ARM_NOBLE = Target("3.12", "aarch64", "2.39")
UBUNTU_22_04 = Target("3.10", "x86_64", "2.35")
UBUNTU_24_04 = Target("3.12", "x86_64", "2.39")

# From a wheelhouse built for Python 3.11 x86_64 by `pip wheel`.
PY311_X86 = [
    "gevent-26.9.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    "greenlet-3.5.6-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "hiredis-3.5.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
    "psutil-5.9.8-cp36-abi3-manylinux_2_12_x86_64.manylinux2010_x86_64.manylinux_2_17_x86_64"
    ".manylinux2014_x86_64.whl",
    "pymongo-3.13.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "zope_interface-8.7-cp311-cp311-manylinux1_x86_64.manylinux2014_x86_64.manylinux_2_17_x86_64"
    ".manylinux_2_5_x86_64.whl",
]
PURE = [
    "argparse-1.4.0-py2.py3-none-any.whl",
    "mrq-0.9.10-py3-none-any.whl",
    "zope_event-6.2-py3-none-any.whl",
    "mrq_lab_app-0.1.0-py3-none-any.whl",
]


# ------------------------------------------------------------------ targets and tags


def test_x86_platforms_run_from_the_glibc_down_to_manylinux1_with_the_legacy_aliases():
    tags = DEBIAN_11.platforms()
    assert tags[0] == "manylinux_2_31_x86_64"
    assert tags[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert tags[tags.index("manylinux_2_17_x86_64") + 1] == "manylinux2014_x86_64"
    assert tags[tags.index("manylinux_2_12_x86_64") + 1] == "manylinux2010_x86_64"
    assert len(tags) == (31 - 5 + 1) + 3


def test_aarch64_platforms_stop_at_manylinux2014():
    tags = ARM_NOBLE.platforms()
    assert tags[0] == "manylinux_2_39_aarch64"
    assert tags[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert not any("manylinux1" in tag or "manylinux2010" in tag for tag in tags)


@pytest.mark.parametrize(
    ("python", "machine", "glibc"),
    [("3", "x86_64", "2.36"), ("3.11", "x86_64", "musl"), ("3.11", "x86_64", ""), ("3.11", "", "2.36")],
)
def test_a_target_is_refused_unless_every_part_reads_as_expected(python: str, machine: str, glibc: str):
    with pytest.raises(ValueError, match="must be like"):
        Target(python, machine, glibc)


# ------------------------------------------------------------------ the lock per Python


def test_python_3_9_gets_the_pins_for_before_3_10():
    wanted = pins(LOCK, DEBIAN_11)
    assert {"click==8.1.8", "gevent==25.9.1", "zope.interface==8.0.1", "mrq==0.9.10"} <= set(wanted)
    assert "click==8.5.1" not in wanted


def test_python_3_13_gets_the_others():
    wanted = pins(LOCK, DEBIAN_13)
    assert {"click==8.5.1", "gevent==26.9.0", "zope.interface==8.7", "argparse==1.4.0"} <= set(wanted)
    assert "gevent==25.9.1" not in wanted


def test_every_python_gets_one_pin_per_package():
    """The same packages everywhere, and on 3.9 what Flask and zope.event need there."""
    backports = {"importlib-metadata", "setuptools", "zipp"}
    for python in ("3.9", "3.10", "3.11", "3.12", "3.13"):
        wanted = pins(LOCK, Target(python, "x86_64", "2.36"))
        names = [pin.split("==")[0] for pin in wanted]
        assert len(names) == len(set(names)), python
        assert set(names) | backports == {p.split("==")[0] for p in pins(LOCK, DEBIAN_11)}, python
        assert (backports <= set(names)) == (python == "3.9"), python
    assert "zope.interface==8.6" in pins(LOCK, Target("3.10", "x86_64", "2.35"))


def test_markers_read_the_target_not_the_controller():
    lock = 'a==1; platform_machine == "aarch64"\nb==2; sys_platform == "win32"\nc==3  # why\n'
    assert pins(lock, ARM_NOBLE) == ["a==1", "c==3"]
    assert pins(lock, DEBIAN_12) == ["c==3"]


@pytest.mark.parametrize("line", ["a>=1", "a", "a==1,<2", "a[x]==1"])
def test_a_lock_line_must_pin_one_version(line: str):
    with pytest.raises(ValueError, match="line 1"):
        pins(line, DEBIAN_12)


# ------------------------------------------------------------------ which wheels fit


def test_the_controllers_wheels_fit_only_its_own_python():
    assert all(fits(wheel, DEBIAN_12) for wheel in PY311_X86)
    assert not any(fits(wheel, DEBIAN_13) for wheel in PY311_X86 if "abi3" not in wheel)
    assert fits(PY311_X86[3], DEBIAN_13)  # psutil: cp36-abi3 serves every later CPython
    assert not any(fits(wheel, Target("3.11", "aarch64", "2.36")) for wheel in PY311_X86)


def test_a_wheel_for_a_newer_glibc_does_not_fit():
    assert fits("ujson-6.1.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl", DEBIAN_12)
    assert not fits("x-1-cp311-cp311-manylinux_2_39_x86_64.whl", DEBIAN_12)
    assert not fits("x-1-cp311-cp311-linux_x86_64.whl", DEBIAN_12)  # built here, not portable


def test_pure_wheels_fit_every_target_and_only_they_are_pure():
    for target in (DEBIAN_11, DEBIAN_13, ARM_NOBLE):
        assert all(fits(wheel, target) for wheel in PURE)
    assert all(is_pure(wheel) for wheel in PURE)
    assert not any(is_pure(wheel) for wheel in PY311_X86)


# ------------------------------------------------------------------ pip's command lines


def test_the_download_names_the_targets_python_abi_and_every_platform():
    argv = download_command("/py", DEBIAN_13, "gevent==26.9.0", Path("/w/gevent"))
    assert argv[:6] == ["/py", "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    assert argv[6:12] == ["--python-version", "3.13", "--implementation", "cp", "--abi", "cp313"]
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "--platform"] == DEBIAN_13.platforms()
    assert argv[-3:] == ["-d", "/w/gevent", "gevent==26.9.0"]


def test_the_source_build_takes_the_packages_options_and_no_cached_build():
    assert build_command("/py", "pymongo==3.13.0", Path("/w")) == [
        *("/py", "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--no-binary", "pymongo"),
        "--config-settings=--build-option=--no_ext",
        *("-w", "/w", "pymongo==3.13.0"),
    ]
    assert build_command("/py", "zope.event==6.2", Path("/w"))[7:9] == ["zope-event", "-w"]


# ------------------------------------------------------------------ fallback (pip faked)


def fake_pip(produces: dict[str, str]):
    """A runner that 'downloads' or 'builds' the file named for the subcommand, or fails."""

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        wheel = produces.get(argv[3])
        if wheel is None:
            return subprocess.CompletedProcess(argv, 1, "", "ERROR: No matching distribution found")
        Path(argv[argv.index("-d" if argv[3] == "download" else "-w") + 1], wheel).touch()
        return subprocess.CompletedProcess(argv, 0, "", "")

    return run


def test_a_requirement_without_a_wheel_for_the_target_is_built_pure(tmp_path: Path):
    run = fake_pip({"wheel": "pymongo-3.13.0-py3-none-any.whl"})
    path, built = fetch("pymongo==3.13.0", DEBIAN_13, "/py", tmp_path, run)
    assert (path.name, built) == ("pymongo-3.13.0-py3-none-any.whl", True)


def test_a_source_build_that_is_not_pure_is_refused_naming_package_and_target(tmp_path: Path):
    run = fake_pip({"wheel": "gevent-26.9.0-cp311-cp311-linux_x86_64.whl"})
    with pytest.raises(WheelhouseError, match=r"gevent==26.9.0 .*Python 3.13 on x86_64 .*not pure"):
        fetch("gevent==26.9.0", DEBIAN_13, "/py", tmp_path, run)


def test_a_failed_source_build_shows_pips_errors(tmp_path: Path):
    with pytest.raises(WheelhouseError, match="No matching distribution"):
        fetch("gevent==26.9.0", DEBIAN_13, "/py", tmp_path, fake_pip({}))


def test_a_downloaded_wheel_must_be_the_pinned_release(tmp_path: Path):
    run = fake_pip({"download": "gevent-26.0.0-cp313-cp313-manylinux_2_28_x86_64.whl"})
    with pytest.raises(WheelhouseError, match="another release"):
        fetch("gevent==26.9.0", DEBIAN_13, "/py", tmp_path, run)


# ------------------------------------------------------------------ completeness


def fake_wheel(directory: Path, name: str, *requires: str) -> Path:
    dist, version = name.split("-")[:2]
    path = directory / name
    with zipfile.ZipFile(path, "w") as whl:
        headers = [f"Name: {dist}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
        # The description may quote a Requires-Dist line: not a requirement.
        whl.writestr(
            f"{dist}-{version}.dist-info/METADATA", "\n".join(headers) + "\n\nRequires-Dist: nothing\n"
        )
    return path


def test_a_dependency_only_the_targets_python_needs_is_found_missing(tmp_path: Path):
    """Flask 3.1 needs importlib-metadata on Python < 3.10: a lock resolved on 3.11 lacks it."""
    flask = fake_wheel(
        tmp_path,
        "flask-3.1.3-py3-none-any.whl",
        "click>=8.1.3",
        'importlib-metadata>=3.6.0; python_version < "3.10"',
        'asgiref>=3.2; extra == "async"',
    )
    click = fake_wheel(tmp_path, "click-8.1.8-py3-none-any.whl")
    assert unmet([flask, click], DEBIAN_13) == []
    assert unmet([flask, click], DEBIAN_11) == [
        'importlib-metadata>=3.6.0; python_version < "3.10" (for flask)'
    ]


def test_a_wheel_for_newer_pythons_is_found_out(tmp_path: Path):
    """A pure wheel built on the controller (3.11) from a release that needs 3.10."""
    path = tmp_path / "zipp-4.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("zipp-4.1.0.dist-info/METADATA", "Name: zipp\nVersion: 4.1.0\nRequires-Python: >=3.10\n")
    assert unmet([path], DEBIAN_13) == []
    assert unmet([path], DEBIAN_11) == ["zipp-4.1.0-py3-none-any.whl requires Python >=3.10"]


def test_a_dependency_at_a_release_the_wheelhouse_lacks_is_found_missing(tmp_path: Path):
    flask = fake_wheel(tmp_path, "flask-3.1.3-py3-none-any.whl", "click>=8.1.3")
    click = fake_wheel(tmp_path, "click-8.0.0-py3-none-any.whl")
    assert unmet([flask, click], DEBIAN_12) == ["click>=8.1.3 (for flask)"]


# ------------------------------------------------------------------ the archive


def test_the_archive_is_flat_and_appears_whole(tmp_path: Path):
    (tmp_path / "a").mkdir()
    wheels = [tmp_path / "a" / name for name in PURE[:2]]
    for wheel in wheels:
        wheel.write_text(wheel.name)
    write_archive(wheels, tmp_path / "out.tar")
    with tarfile.open(tmp_path / "out.tar") as tar:
        assert tar.getnames() == PURE[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out.tar"]


def test_an_interrupted_archive_leaves_nothing(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        write_archive([tmp_path / "missing.whl"], tmp_path / "out.tar")
    assert list(tmp_path.iterdir()) == []


def test_the_app_is_built_from_a_copy_and_its_tree_stays_clean(tmp_path: Path):
    app = tmp_path / "app"
    (app / "src/pkg").mkdir(parents=True)
    (app / "setup.py").write_text("setup()")
    (app / "src/pkg/__init__.py").write_text("")
    (app / "build").mkdir()  # an earlier in-tree build's
    (app / "src/pkg.egg-info").mkdir()
    given: list[Path] = []

    def pip_wheel(argv: list[str]) -> subprocess.CompletedProcess[str]:
        source, out = Path(argv[-1]), Path(argv[argv.index("-w") + 1])
        given.append(source)
        (source / "build").mkdir(exist_ok=True)  # what setuptools does in the tree it gets
        (out / "mrq_lab_app-0.1.0-py3-none-any.whl").write_text("")
        return subprocess.CompletedProcess(argv, 0, "", "")

    wheel = build_app(app, DEBIAN_12, sys.executable, tmp_path / "work", pip_wheel)
    assert wheel.name == "mrq_lab_app-0.1.0-py3-none-any.whl"
    assert given and given[0] != app and not given[0].is_relative_to(app)
    assert (given[0] / "setup.py").is_file() and (given[0] / "src/pkg/__init__.py").is_file()
    assert not (given[0] / "src/pkg.egg-info").exists()
    assert sorted(p.name for p in app.iterdir()) == ["build", "setup.py", "src"]  # as it was


# ------------------------------------------------------------------ for real, against PyPI


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not pypi_reachable(), reason="PyPI is out of reach")
@pytest.mark.parametrize(
    ("target", "pymongo", "gevent"),
    [
        (DEBIAN_13, "pymongo-3.13.0-py3-none-any.whl", "gevent-26.9.0-cp313-cp313-"),
        (DEBIAN_11, "pymongo-3.13.0-cp39-cp39-manylinux", "gevent-25.9.1-cp39-cp39-"),
        (UBUNTU_22_04, "pymongo-3.13.0-cp310-cp310-manylinux", "gevent-26.9.0-cp310-cp310-"),
        (UBUNTU_24_04, "pymongo-3.13.0-py3-none-any.whl", "gevent-26.9.0-cp312-cp312-"),
    ],
)
def test_the_wheelhouse_from_pypi(tmp_path: Path, target: Target, pymongo: str, gevent: str):
    """The lock's pins for the target are complete (build() checks every wheel's
    dependencies for that Python) and come as wheels that target takes."""
    dest = tmp_path / "wheelhouse" / "release-x86_64.tar"
    wheels, built = build(LOCK, APP, target, sys.executable, dest)
    with tarfile.open(dest) as tar:
        assert tar.getnames() == wheels
    assert len(wheels) == len(pins(LOCK, target)) + 1
    assert all(fits(wheel, target) for wheel in wheels)
    assert any(wheel.startswith(pymongo) for wheel in wheels)
    assert any(wheel.startswith(gevent) for wheel in wheels)
    assert "mrq-0.9.10-py3-none-any.whl" in wheels
    assert ("pymongo-3.13.0-py3-none-any.whl" in built) == (target.python in ("3.12", "3.13"))
    assert all(is_pure(wheel) for wheel in built)
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no work directory left
