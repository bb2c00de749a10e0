"""Install packages into a virtualenv that has no pip of its own, with the distribution's pip wheel."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: venv_install
short_description: Install packages into a pip-less virtualenv
description:
  - Creates I(venv) with C(python -m venv --without-pip) when it does not
    exist, and installs I(packages) into it by running the pip wheel that
    ensurepip would have copied into it (Debian's and Ubuntu's python3-venv
    ship it in C(/usr/share/python-wheels)). The venv never holds pip itself.
  - Why not ansible.builtin.pip: a venv with pip costs about 2 s to create
    (ensurepip installs and compiles pip and setuptools), and the pip module
    lists the venv's packages before and after. On a fresh host (2026-11-29)
    playbook.yml's two installs took 6.4 s (the app's release) and 4.6 s (the
    MongoDB driver) with it, 2.8 s and 2.2 s with this module.
  - pip compiles nothing; C(compileall) then compiles the venv's modules on
    every CPU (the services' user cannot write their .pyc). As with pip, a
    module that does not compile stays uncompiled and fails nothing.
  - Does nothing when I(creates) exists, which the install must create (a
    package's dist-info directory, an entry point); fails if it does not.
options:
  venv: {description: The virtualenv's directory, type: path, required: true}
  python: {description: The interpreter that creates it, type: str, required: true}
  packages:
    description: Requirements or wheel files, as pip takes them
    type: list
    elements: str
    default: []
  wheels_from:
    description:
      - A directory of wheels that is a complete, locked set (a wheelhouse):
        each is installed, with no index and no dependency resolution.
    type: path
  extra_args: {description: More arguments to pip install, type: list, elements: str, default: []}
  creates:
    description: A path the install creates; when it exists nothing is done
    type: path
    required: true
  wheel_dir: {description: Where the pip wheel is, type: path, default: /usr/share/python-wheels}
"""

WHEEL = re.compile(r"^pip-(\d+(?:\.\d+)*)-.*\.whl$")


def pip_wheel(wheel_dir: str) -> Path | None:
    """The newest pip wheel in `wheel_dir`, versions compared as numbers."""
    found = []
    for entry in Path(wheel_dir).glob("pip-*.whl"):
        if m := WHEEL.match(entry.name):
            found.append((tuple(int(part) for part in m[1].split(".")), entry))
    return max(found)[1] if found else None


def commands(
    python: str, venv: str, wheel: Path, packages: Sequence[str], extra_args: Sequence[str], new: bool
) -> list[list[str]]:
    """Create the venv (when `new`), run the wheel's pip with the venv's Python,
    then compile the venv's modules in parallel (pip compiles one at a time)."""
    create = [[python, "-m", "venv", "--without-pip", venv]] if new else []
    vpython = str(Path(venv) / "bin" / "python")
    pip = [vpython, f"{wheel}/pip", "install", "--disable-pip-version-check", "--no-input", "--no-compile"]
    compile_all = [vpython, "-m", "compileall", "-q", "-j0", str(Path(venv) / "lib")]
    return [*create, [*pip, *extra_args, *packages], compile_all]


def wheelhouse(directory: str) -> tuple[list[str], list[str]]:
    """pip arguments and packages that install every wheel of `directory`, as locked."""
    wheels = sorted(str(w) for w in Path(directory).glob("*.whl"))
    return ["--no-index", "--no-deps"], wheels


def install(
    run: Callable[[list[str]], tuple[int, str, str]],
    venv: str,
    python: str,
    packages: Sequence[str],
    extra_args: Sequence[str],
    creates: str,
    wheel_dir: str,
) -> str | None:
    """Run the install; None when done, else what went wrong."""
    wheel = pip_wheel(wheel_dir)
    if wheel is None:
        return f"no pip wheel in {wheel_dir}: install python3-venv (it brings python3-pip-whl)"
    new = not (Path(venv) / "bin" / "python").exists()
    *install_cmds, compile_all = commands(python, venv, wheel, packages, extra_args, new)
    for cmd in install_cmds:
        rc, out, err = run(cmd)
        if rc != 0:
            return f"{' '.join(cmd)} failed ({rc}): {(out + err).strip()[-3000:]}"
    # As pip's own compile step: a module that does not compile (a Python 2
    # leftover in a package) stays uncompiled, and is no failure.
    run(compile_all)
    if not Path(creates).exists():
        return f"pip ran ({' '.join(packages)}) into {venv}, but {creates} is not there"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "venv": {"type": "path", "required": True},
            "python": {"type": "str", "required": True},
            "packages": {"type": "list", "elements": "str", "default": []},
            "wheels_from": {"type": "path"},
            "extra_args": {"type": "list", "elements": "str", "default": []},
            "creates": {"type": "path", "required": True},
            "wheel_dir": {"type": "path", "default": "/usr/share/python-wheels"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if Path(p["creates"]).exists():
        module.exit_json(changed=False, venv=p["venv"])
    if module.check_mode:
        module.exit_json(changed=True, venv=p["venv"])
    args, packages = list(p["extra_args"]), list(p["packages"])
    if p["wheels_from"]:
        more_args, wheels = wheelhouse(p["wheels_from"])
        if not wheels:
            module.fail_json(msg=f"no wheel in {p['wheels_from']}")
        args, packages = args + more_args, packages + wheels
    if not packages:
        module.fail_json(msg="nothing to install: give packages or wheels_from")
    problem = install(
        module.run_command, p["venv"], p["python"], packages, args, p["creates"], p["wheel_dir"]
    )
    if problem:
        module.fail_json(msg=problem)
    module.exit_json(changed=True, venv=p["venv"])


if __name__ == "__main__":
    main()
