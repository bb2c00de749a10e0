"""A wheelhouse per target: the wheels one host's Python, architecture and glibc accept.

The controller's own Python does not matter: each locked requirement is
downloaded as a wheel for the target's tags (`pip download --python-version
--abi --platform`). A requirement with no wheel for the target is built from
its source on the controller, which only serves the target if the build is
pure Python (py3-none-any); anything else is refused, naming package and target.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

# The manylinux tags named before PEP 600, by the glibc minor they stand for.
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}

# Source builds that need an option to come out pure Python, by canonical name.
BUILD_OPTIONS: dict[str, list[str]] = {
    # 3.13.0 has no wheels for Python >= 3.12; its setup.py leaves out the C
    # extensions (the BSON speed-ups) when --no_ext is in its argv.
    "pymongo": ["--config-settings=--build-option=--no_ext"],
}

DOWNLOAD_WORKERS = 8
TAIL_LINES = 15


class WheelhouseError(Exception):
    """A requirement that cannot be served to the target; the message says which and why."""


@dataclass(frozen=True)
class Target:
    """What a host's pip accepts: CPython `python` ("3.13") on `machine`, with `glibc` ("2.41")."""

    python: str
    machine: str
    glibc: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d+", self.python):
            raise ValueError(f"python_version must be like 3.11, got {self.python!r}")
        if not re.fullmatch(r"2\.\d+", self.glibc):
            raise ValueError(f"glibc must be like 2.36, got {self.glibc!r}")
        if not re.fullmatch(r"\w+", self.machine):
            raise ValueError(f"machine must be like x86_64, got {self.machine!r}")

    def __str__(self) -> str:
        return f"Python {self.python} on {self.machine} with glibc {self.glibc}"

    @property
    def cp(self) -> str:
        """The interpreter and ABI tag, cp313."""
        return "cp" + self.python.replace(".", "")

    def platforms(self) -> list[str]:
        """manylinux platform tags, most specific first (as packaging.tags orders them
        for a running interpreter): manylinux_2_N from the target's glibc down, with
        the legacy aliases. Only x86 had manylinux wheels before glibc 2.17."""
        oldest = 5 if self.machine in ("x86_64", "i686") else 17
        tags = []
        for minor in range(int(self.glibc.split(".")[1]), oldest - 1, -1):
            tags.append(f"manylinux_2_{minor}_{self.machine}")
            if minor in LEGACY_MANYLINUX:
                tags.append(f"{LEGACY_MANYLINUX[minor]}_{self.machine}")
        return tags

    def tags(self) -> list[Tag]:
        """Every wheel tag the target accepts, best first."""
        version = tuple(int(part) for part in self.python.split("."))
        platforms = self.platforms()
        return [
            *cpython_tags(version, abis=[self.cp, "abi3", "none"], platforms=platforms),
            *compatible_tags(version, interpreter=self.cp, platforms=platforms),
        ]

    def environment(self) -> dict[str, str]:
        """The marker environment of the target. The patch level is not known: .0."""
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.python}.0",
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{self.python}.0",
            "platform_python_implementation": "CPython",
            "python_version": self.python,
            "sys_platform": "linux",
        }


def pins(lock: str, target: Target) -> list[str]:
    """The `name==version` lines of a lock file whose marker holds for the target."""
    wanted = []
    for number, line in enumerate(lock.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        exact = [spec for spec in req.specifier if spec.operator == "=="]
        if len(exact) != 1 or len(req.specifier) != 1 or req.extras or req.url:
            raise ValueError(f"lock line {number} is not one name==version: {line!r}")
        if req.marker is None or req.marker.evaluate(target.environment()):
            wanted.append(f"{req.name}=={exact[0].version}")
    return wanted


def fits(wheel: str, target: Target) -> bool:
    """Does the target's pip accept this wheel file name?"""
    return not parse_wheel_filename(wheel)[3].isdisjoint(target.tags())


def is_pure(wheel: str) -> bool:
    """Pure Python: no ABI, any platform (py3-none-any, py2.py3-none-any)."""
    return all(tag.abi == "none" and tag.platform == "any" for tag in parse_wheel_filename(wheel)[3])


def is_wheel_of(wheel: str, pin: str) -> bool:
    """Is this wheel file name the release `name==version` pins?"""
    name, version, _build, _tags = parse_wheel_filename(wheel)
    req = Requirement(pin)
    return name == canonicalize_name(req.name) and req.specifier.contains(str(version), prereleases=True)


def pip_target_options(target: Target) -> list[str]:
    """pip's options that pick the wheels the target takes, not the running Python's."""
    platforms = [arg for tag in target.platforms() for arg in ("--platform", tag)]
    return ["--python-version", target.python, "--implementation", "cp", "--abi", target.cp, *platforms]


def download_command(pip_python: str, target: Target, pin: str, directory: Path) -> list[str]:
    return [
        *(pip_python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"),
        *pip_target_options(target),
        *("-d", str(directory), pin),
    ]


def build_command(pip_python: str, pin: str, directory: Path) -> list[str]:
    """A source build on the controller, with the package's options from BUILD_OPTIONS.
    --no-cache-dir: pip's wheel cache ignores build options, so it could hand back
    an earlier build made without them (or the other way round)."""
    name = canonicalize_name(Requirement(pin).name)
    return [
        *(pip_python, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--no-binary", name),
        *BUILD_OPTIONS.get(name, []),
        *("-w", str(directory), pin),
    ]


def app_command(pip_python: str, app: Path, directory: Path) -> list[str]:
    return [pip_python, "-m", "pip", "wheel", "--no-deps", "-w", str(directory), str(app)]


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run pip. Without the PYTHONDONTWRITEBYTECODE Ansible sets for modules: each of a
    source build's three hook processes would compile setuptools afresh (3x slower)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


def _only_wheel(directory: Path, what: str) -> str:
    found = sorted(path.name for path in directory.glob("*.whl"))
    if len(found) != 1:
        raise WheelhouseError(f"{what}: expected one wheel in {directory}, found {found or 'none'}")
    return found[0]


def fetch(pin: str, target: Target, pip_python: str, work: Path, runner: Runner = run) -> tuple[Path, bool]:
    """The wheel of `pin` for the target, and whether it was built here from source:
    downloaded if one exists for the target, else built as a pure-Python wheel."""
    directory = work / canonicalize_name(Requirement(pin).name)
    directory.mkdir(parents=True)
    download = runner(download_command(pip_python, target, pin, directory))
    built = download.returncode != 0
    if built:
        build = runner(build_command(pip_python, pin, directory))
        if build.returncode != 0:
            raise WheelhouseError(
                f"{pin} has no wheel for {target} (pip download: {tail(download.stderr, 3)}) "
                f"and its source build on the controller failed:\n{tail(build.stderr)}"
            )
    wheel = _only_wheel(directory, pin)
    if not is_wheel_of(wheel, pin):
        raise WheelhouseError(f"{pin}: pip gave {wheel}, another release")
    if built and not is_pure(wheel):
        raise WheelhouseError(
            f"{pin} has no wheel for {target}, and its source build on the controller gives "
            f"{wheel}, which is not pure Python: it cannot serve that target. Pin a release "
            f"with wheels for that target, or use mrq_install_from: index."
        )
    if not fits(wheel, target):
        raise WheelhouseError(f"{pin}: {wheel} does not fit {target}")
    return directory / wheel, built


# What a build of the app leaves or reads in its tree and the wheel does not need.
APP_BUILD_LEFTOVERS = ("build", "*.egg-info", "__pycache__", ".pytest_cache")


def build_app(app: Path, target: Target, pip_python: str, work: Path, runner: Runner = run) -> Path:
    """The app's wheel, built from a copy of its tree in `work`: setuptools builds
    in the tree it is given, so builds of two targets at once (scenarios run side
    by side) never share its build/ directory, and the app's tree stays clean."""
    directory, source = work / "app", work / "app-source"
    directory.mkdir(parents=True)
    shutil.copytree(app, source, ignore=shutil.ignore_patterns(*APP_BUILD_LEFTOVERS))
    result = runner(app_command(pip_python, source, directory))
    if result.returncode != 0:
        raise WheelhouseError(f"building the app's wheel from {app} failed:\n{tail(result.stderr)}")
    wheel = _only_wheel(directory, str(app))
    if not (is_pure(wheel) and fits(wheel, target)):
        raise WheelhouseError(f"the app's wheel {wheel} is not pure Python")
    return directory / wheel


def metadata(wheel: Path, field: str) -> list[str]:
    """The values of one field of a wheel's METADATA headers (Requires-Dist...)."""
    with zipfile.ZipFile(wheel) as whl:
        meta = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        text = whl.read(meta).decode()
    lines = text.split("\n\n", 1)[0].splitlines()  # the headers, not the description
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith(f"{field}:")]


def unmet(wheels: Iterable[Path], target: Target) -> list[str]:
    """What the wheels require on the target that none of them provides, and wheels
    whose Requires-Python excludes it (pip resolves markers with the controller's
    Python: a lock can look complete there and not be)."""
    wheels = list(wheels)
    have = {
        canonicalize_name(parse_wheel_filename(w.name)[0]): parse_wheel_filename(w.name)[1] for w in wheels
    }
    env = {**target.environment(), "extra": ""}
    missing = []
    for wheel in wheels:
        for spec in metadata(wheel, "Requires-Python"):
            if not SpecifierSet(spec).contains(target.environment()["python_full_version"], prereleases=True):
                missing.append(f"{wheel.name} requires Python {spec}")
        for req in map(Requirement, metadata(wheel, "Requires-Dist")):
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            version = have.get(canonicalize_name(req.name))
            if version is None or not req.specifier.contains(version, prereleases=True):
                missing.append(f"{req} (for {parse_wheel_filename(wheel.name)[0]})")
    return sorted(set(missing))


def collect(
    lock: str, app: Path, target: Target, pip_python: str, work: Path, runner: Runner = run
) -> tuple[list[Path], list[str]]:
    """Every wheel the target needs (the lock's pins and the app), fetched in parallel
    into `work`; and the names of those built from source."""
    wanted = pins(lock, target)
    with ThreadPoolExecutor(max_workers=DOWNLOAD_WORKERS) as pool:
        fetches = [pool.submit(fetch, pin, target, pip_python, work, runner) for pin in wanted]
        app_wheel = pool.submit(build_app, app, target, pip_python, work, runner)
        results = [future.result() for future in fetches]
        wheels = [path for path, _built in results] + [app_wheel.result()]
    missing = unmet(wheels, target)
    if missing:
        raise WheelhouseError(
            f"the lock does not fit Python {target.python}: {'; '.join(missing)}."
            " Pin what fits that Python in the lock file."
        )
    built = sorted(path.name for path, was_built in results if was_built)
    return sorted(wheels, key=lambda path: path.name), built


def write_archive(wheels: Iterable[Path], dest: Path) -> None:
    """A flat tar of the wheels, written to a temporary name and renamed: an
    interrupted run leaves no half archive under `dest`."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
            for wheel in wheels:
                tar.add(wheel, arcname=wheel.name)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build(
    lock: str, app: Path, target: Target, pip_python: str, dest: Path, runner: Runner = run
) -> tuple[list[str], list[str]]:
    """Write the target's wheelhouse archive `dest`, working in <dest dir>/work/<dest stem>
    (started afresh, removed afterwards). Returns the wheels' names and those built from source."""
    work = dest.parent / "work" / dest.stem
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        wheels, built = collect(lock, app, target, pip_python, work, runner)
        write_archive(wheels, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):  # not empty: another archive's work, under way
            work.parent.rmdir()
    return [path.name for path in wheels], built
