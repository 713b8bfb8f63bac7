"""Builds the protobuf code from the contracts before packaging (see generate.py).

It runs before `setup()`, not in a build command: setuptools checks that every package
directory exists while it prepares the metadata, the first step of any wheel or sdist
build, and the `_proto` packages are among them.
"""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the build backend does not add it

from generate import DEFAULT_PROTOS, HERE, OUT, generate

# An sdist (it has PKG-INFO) carries the generated code and no contracts: build from what
# it carries. Inside the repository the contracts are there: always regenerate.
if (HERE / "PKG-INFO").exists():
    if not (OUT / "contracts.py").exists():
        raise SystemExit("this source distribution lacks its generated code")
elif DEFAULT_PROTOS.is_dir():
    generate()
else:
    raise SystemExit(f"no contracts at {DEFAULT_PROTOS} to generate the client's code from")

setup()
