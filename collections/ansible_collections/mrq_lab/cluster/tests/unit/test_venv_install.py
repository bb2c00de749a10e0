"""A pip-less venv gets its packages from the distribution's pip wheel, once."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ansible_collections.mrq_lab.cluster.plugins.modules.venv_install import (
    commands,
    install,
    pip_wheel,
    wheelhouse,
)

SYSTEM_WHEELS = "/usr/share/python-wheels"
needs_pip_wheel = pytest.mark.skipif(
    pip_wheel(SYSTEM_WHEELS) is None, reason="no pip wheel in /usr/share/python-wheels (python3-venv)"
)


def run(cmd: list[str]) -> tuple[int, str, str]:
    res = subprocess.run(cmd, capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


def tiny_wheel(where: Path, extra: dict[str, str] | None = None) -> Path:
    """A pure-Python wheel of one module, `tiny`, version 1.0 (and `extra` files)."""
    path = where / "tiny-1.0-py3-none-any.whl"
    info = "tiny-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("tiny.py", "ANSWER = 42\n")
        for name, text in (extra or {}).items():
            whl.writestr(name, text)
        whl.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n")
        whl.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        whl.writestr(f"{info}/RECORD", f"tiny.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return path


def test_the_newest_pip_wheel_is_taken_comparing_versions_as_numbers(tmp_path: Path):
    for name in [
        "pip-9.0.1-py2.py3-none-any.whl",
        "pip-23.0.1-py3-none-any.whl",
        "setuptools-66.1.1-py3-none-any.whl",
    ]:
        (tmp_path / name).touch()
    assert pip_wheel(str(tmp_path)) == tmp_path / "pip-23.0.1-py3-none-any.whl"


def test_without_a_pip_wheel_the_error_names_the_package_to_install(tmp_path: Path):
    problem = install(run, str(tmp_path / "v"), sys.executable, ["x"], [], str(tmp_path / "x"), str(tmp_path))
    assert problem is not None and "python3-venv" in problem
    assert not (tmp_path / "v").exists()


def test_an_existing_venv_is_not_created_again_and_its_modules_are_compiled_in_parallel(tmp_path: Path):
    wheel = tmp_path / "pip-1.0-py3-none-any.whl"
    pip = [
        "/v/bin/python",
        f"{wheel}/pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
    ]
    assert commands("python3", "/v", wheel, ["a"], [], new=False) == [
        [*pip, "a"],
        ["/v/bin/python", "-m", "compileall", "-q", "-j0", "/v/lib"],
    ]
    assert commands("python3", "/v", wheel, ["a"], ["--no-index"], new=True)[0] == [
        "python3",
        "-m",
        "venv",
        "--without-pip",
        "/v",
    ]


def test_a_wheelhouse_installs_each_of_its_wheels_unresolved(tmp_path: Path):
    for name in ["b-1-py3-none-any.whl", "a-2-py3-none-any.whl", "notes.txt"]:
        (tmp_path / name).touch()
    assert wheelhouse(str(tmp_path)) == (
        ["--no-index", "--no-deps"],
        [str(tmp_path / "a-2-py3-none-any.whl"), str(tmp_path / "b-1-py3-none-any.whl")],
    )


@needs_pip_wheel
def test_the_package_is_installed_into_a_venv_without_pip(tmp_path: Path):
    venv = tmp_path / "venv"
    wheel = tiny_wheel(tmp_path)
    creates = (
        venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages" / "tiny.py"
    )
    args = ["--no-index", "--find-links", str(tmp_path)]
    assert (
        install(run, str(venv), "/usr/bin/python3", [str(wheel)], args, str(creates), SYSTEM_WHEELS) is None
    )
    assert run([str(venv / "bin/python"), "-c", "import tiny; print(tiny.ANSWER)"])[1] == "42\n"
    assert run([str(venv / "bin/python"), "-m", "pip", "--version"])[0] != 0  # no pip of its own
    assert list(creates.parent.glob("__pycache__/tiny.*.pyc"))  # compiled, by compileall


@needs_pip_wheel
def test_a_module_that_does_not_compile_fails_nothing_as_with_pip(tmp_path: Path):
    venv = tmp_path / "venv"
    wheel = tiny_wheel(tmp_path, {"tiny_py2.py": "print 'a Python 2 leftover'\n"})
    creates = (
        venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages" / "tiny.py"
    )
    args = ["--no-index", "--find-links", str(tmp_path)]
    assert (
        install(run, str(venv), "/usr/bin/python3", [str(wheel)], args, str(creates), SYSTEM_WHEELS) is None
    )
    assert list(creates.parent.glob("__pycache__/tiny.*.pyc"))
    assert not list(creates.parent.glob("__pycache__/tiny_py2.*.pyc"))


@needs_pip_wheel
def test_an_install_that_does_not_create_the_promised_path_fails(tmp_path: Path):
    wheel = tiny_wheel(tmp_path)
    args = ["--no-index", "--find-links", str(tmp_path)]
    problem = install(
        run, str(tmp_path / "v"), "/usr/bin/python3", [str(wheel)], args, "/nonexistent", SYSTEM_WHEELS
    )
    assert problem is not None and "/nonexistent is not there" in problem


@needs_pip_wheel
def test_a_failing_pip_is_reported_with_its_output(tmp_path: Path):
    args = ["--no-index", "--find-links", str(tmp_path)]
    problem = install(
        run, str(tmp_path / "v"), "/usr/bin/python3", ["absent==1"], args, str(tmp_path), SYSTEM_WHEELS
    )
    assert problem is not None and "absent" in problem and "failed" in problem
