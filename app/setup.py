"""The .pth that applies mrqlab's MRQ fixes in every process of the venv (mrqlab/hook.py)
goes to the root of site-packages: setuptools has no declarative way to ship one."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "mrqlab-compat.pth"


class BuildWithPth(build_py):
    def run(self) -> None:
        super().run()
        self.copy_file(str(Path(__file__).parent / "src" / PTH), str(Path(self.build_lib) / PTH))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH)]

    def get_output_mapping(self) -> dict[str, str]:
        return {**super().get_output_mapping(), str(Path(self.build_lib) / PTH): str(Path("src") / PTH)}


setup(cmdclass={"build_py": BuildWithPth})
