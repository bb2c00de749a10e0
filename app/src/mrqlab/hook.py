"""Apply mrqlab.compat's fixes wherever MRQ is imported in the venv.

`mrqlab-compat.pth` (installed with the app, in site-packages) calls `install()`
when Python starts: a finder at the front of `sys.meta_path` that lets each
module of `compat.AFTER_IMPORT` load as usual and then runs its fixes, so task
code, `mrq-run` and `python -c "import mrq.agent"` get them as the entry points
do. It imports nothing at start-up beyond the standard library. On Python 3.13,
which has no `pipes`, it serves MRQ's worker a `pipes` with `quote`.

MRQLAB_COMPAT=off leaves MRQ as installed (the compat tests use it to show each
problem without its fix).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from mrqlab import compat


class _PipesShim(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        compat.fill_pipes(module)


class AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asks the other finders, then wraps the loader's
    exec_module of the watched modules so their fixes run right after it."""

    def __init__(self) -> None:
        self._finding: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self._finding or (fullname not in compat.AFTER_IMPORT and fullname != "pipes"):
            return None
        self._finding.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except ImportError:
            if fullname != "pipes":
                raise
            spec = None
        finally:
            self._finding.discard(fullname)
        if spec is None:
            return importlib.util.spec_from_loader("pipes", _PipesShim()) if fullname == "pipes" else None
        loader: Any = spec.loader
        if fullname in compat.AFTER_IMPORT and loader is not None and hasattr(loader, "exec_module"):
            exec_module = loader.exec_module

            def exec_then_fix(module: types.ModuleType) -> None:
                exec_module(module)
                parent, _, child = fullname.rpartition(".")
                if parent in sys.modules:  # as the import system does next: `mrq.worker` works
                    setattr(sys.modules[parent], child, module)
                for fix in compat.AFTER_IMPORT[fullname]:
                    fix()

            loader.exec_module = exec_then_fix  # this module's loader only
        return spec


def install() -> None:
    if os.environ.get("MRQLAB_COMPAT", "").lower() in ("off", "0", "no", "false"):
        return
    if not any(isinstance(f, AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, AfterImport())
