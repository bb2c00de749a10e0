"""Prepare, on the controller, the wheelhouse archive of one target (Python, architecture, glibc)."""

from __future__ import annotations

import tarfile
import traceback
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.mrq_lab.cluster.plugins.module_utils.wheelhouse import (
        Target,
        WheelhouseError,
        build,
        pins,
    )
except ImportError:  # packaging: an ansible-core dependency, but the module may run elsewhere
    IMPORT_ERROR: str | None = traceback.format_exc()
else:
    IMPORT_ERROR = None

DOCUMENTATION = r"""
module: wheelhouse
short_description: Build the archive of wheels one target host installs from
description:
  - Writes I(dest), a flat tar of the wheels of every requirement of I(lock)
    whose marker holds for the target, and of the app in I(app); hosts then
    install with C(pip install --no-index) (no compiler, no internet).
  - Meant to run on the controller (delegated to localhost). The
    controller's Python need not be the target's; wheels are downloaded for the
    target's tags (C(pip download --python-version --abi --platform), one pip
    per requirement, in parallel). A requirement with no wheel for the target is
    built from source on the controller, and must come out pure Python (some
    packages need an option for that, e.g. pymongo 3.13 C(--no_ext)); any other
    result fails, naming the package and the target.
  - Does nothing when I(dest) exists (its name is content-addressed by the
    caller). Works in C(<dest dir>/work/<dest name less .tar>), removed afterwards; the
    archive is written under a temporary name and renamed.
options:
  lock: {description: "The requirements lock: C(name==version; marker) lines", type: path, required: true}
  app: {description: The app's source directory (built with C(pip wheel)), type: path, required: true}
  dest: {description: The archive to write (a .tar), type: path, required: true}
  python_version: {description: The target's Python (C(3.13)), type: str, required: true}
  machine: {description: The target's architecture (C(x86_64)), type: str, required: true}
  glibc: {description: The target's glibc version (C(2.41)), type: str, required: true}
  pip_python: {description: The controller's Python that runs pip, type: path, required: true}
"""

RETURN = r"""
wheels: {description: The archive's wheel file names (none in check mode), type: list}
built: {description: The wheels built from source as pure Python (none when I(dest) existed), type: list}
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "lock": {"type": "path", "required": True},
            "app": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "python_version": {"type": "str", "required": True},
            "machine": {"type": "str", "required": True},
            "glibc": {"type": "str", "required": True},
            "pip_python": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("packaging"), exception=IMPORT_ERROR)
    params = module.params
    dest = Path(params["dest"])
    try:
        target = Target(params["python_version"], params["machine"], params["glibc"])
        lock = Path(params["lock"]).read_text()
        pins(lock, target)  # a bad lock fails in check mode too
    except (OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    if dest.exists():
        with tarfile.open(dest) as tar:
            module.exit_json(changed=False, dest=str(dest), wheels=sorted(tar.getnames()), built=[])
    if module.check_mode:
        module.exit_json(changed=True, dest=str(dest), wheels=[], built=[])
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        wheels, built = build(lock, Path(params["app"]), target, params["pip_python"], dest)
    except (OSError, WheelhouseError) as exc:
        module.fail_json(msg=f"wheelhouse for {target}: {exc}")
    module.exit_json(changed=True, dest=str(dest), wheels=wheels, built=built)


if __name__ == "__main__":
    main()
