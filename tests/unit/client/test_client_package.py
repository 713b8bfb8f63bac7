"""The client package builds from a clean source, without `make`, with its generated code inside.

The README promises `pip install ./clients/python`: a clean copy of the package and the
contracts, as a checkout has them, must give a wheel (and an sdist, and a wheel from that
sdist) that carries `aiorch_client/_proto`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from aiorch_client import CONTRACTS_SHA256

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("assistant", "classifier", "common", "embeddings", "meeting_intel", "monitor")
GENERATED = {
    f"aiorch_client/_proto/aiorch/v1/{name}{suffix}"
    for name in (*SERVICES, "orchestrator")
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
} | {"aiorch_client/_proto/contracts.py"}
# The version names the contracts the code was built from (see setup.py); the copy's
# contracts are this checkout's, and test_client_contracts ties those to CONTRACTS_SHA256.
VERSION = f"0.1.0+contracts.{CONTRACTS_SHA256[:12]}"
# What a checkout does not have: the generated code and build leftovers (see its .gitignore).
SKIP = shutil.ignore_patterns("_proto", "build", "dist", "*.egg-info", "__pycache__")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    for part in ("protos", "clients/python"):
        shutil.copytree(ROOT / part, tmp_path / "src" / part, ignore=SKIP)
    return tmp_path / "src" / "clients" / "python"


def pip_wheel(target: Path | str, out: Path, *, isolated: bool = False) -> Path:
    args = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
    if not isolated:
        args.append("--no-build-isolation")
    built = subprocess.run([*args, str(target)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("aiorch_client-*.whl")
    assert wheel.name.startswith(f"aiorch_client-{VERSION}-")
    return wheel


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def index_reachable() -> bool:
    try:
        probe = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", "googleapis-common-protos"],
            capture_output=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def test_a_wheel_from_a_clean_copy_carries_the_generated_code(source, tmp_path):
    wheel = pip_wheel(source, tmp_path / "wheel")
    assert not GENERATED - wheel_files(wheel)
    # The generated modules import each other under aiorch_client._proto, from the wheel.
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]);"
            "from aiorch_client._proto.aiorch.v1 import orchestrator_pb2_grpc as m;"
            "print(m.__file__)",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(str(wheel))


def test_an_sdist_carries_the_generated_code_and_builds_a_wheel_without_the_contracts(
    source, tmp_path
):
    sdists = tmp_path / "sdist"
    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(sdists),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (sdist,) = sdists.glob("aiorch_client-*.tar.gz")
    assert sdist.name == f"aiorch_client-{VERSION}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert not GENERATED - names
    assert "generate.py" in names
    # pip unpacks the sdist elsewhere: no protos/ beside it, only what it carries.
    wheel = pip_wheel(sdist, tmp_path / "wheel")
    assert not GENERATED - wheel_files(wheel)


def test_an_isolated_build_brings_what_generating_the_code_needs(source, tmp_path):
    # Build isolation installs build-system.requires from the package index.
    if not index_reachable():
        pytest.skip("pip cannot reach its package index here")
    wheel = pip_wheel(source, tmp_path / "wheel", isolated=True)
    assert not GENERATED - wheel_files(wheel)
