"""Builds the protobuf code from the contracts before packaging (see generate.py)."""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

sys.path.insert(0, str(Path(__file__).parent))  # the build backend does not add it

from generate import DEFAULT_PROTOS, OUT, generate


def _generate_when_possible() -> None:
    # Inside the repository the contracts are there: always regenerate. From an sdist they
    # are not, and the sdist already carries the generated code.
    if DEFAULT_PROTOS.is_dir():
        generate()
    elif not (OUT / "contracts.py").exists():
        raise SystemExit("no contracts to build from and no generated code in this source")


class BuildPy(build_py):
    def run(self):
        _generate_when_possible()
        super().run()


class Sdist(sdist):
    def run(self):
        _generate_when_possible()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
