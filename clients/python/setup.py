"""Builds the protobuf code from the contracts before packaging (see generate.py).

It runs before `setup()`, not in a build command: setuptools checks that every package
directory exists while it prepares the metadata, the first step of any wheel or sdist
build, and the `_proto` packages are among them.
"""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the build backend does not add it

from generate import DEFAULT_PROTOS, HERE, OUT, generate, generated_digest

# The client's own API. The version's local label names the contracts its generated code was
# built from (their digest, CONTRACTS_SHA256), so two builds from different contracts never
# share a version. Not protos/RELEASED: that names the commit of the last release, the
# baseline `buf breaking` compares with; a commit id has no order to make a version of,
# an sdist has no git to look it up in, and the contracts move on after a release.
API_VERSION = "0.1.0"

# An sdist (it has PKG-INFO) carries the generated code and no contracts: build from what
# it carries. Inside the repository the contracts are there: always regenerate.
if (HERE / "PKG-INFO").exists():
    if not (OUT / "contracts.py").exists():
        raise SystemExit("this source distribution lacks its generated code")
elif DEFAULT_PROTOS.is_dir():
    generate()
else:
    raise SystemExit(f"no contracts at {DEFAULT_PROTOS} to generate the client's code from")

setup(version=f"{API_VERSION}+contracts.{generated_digest()[:12]}")
