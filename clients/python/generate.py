"""Generates the client's own copy of the aiorch protobuf and gRPC code.

    python generate.py [PROTOS_DIR]

Writes `aiorch_client/_proto/aiorch/v1/*_pb2.py` (+ `_pb2_grpc.py`, `.pyi`) with imports
rewritten to live under `aiorch_client._proto`, so the client never clashes with (or needs)
a top-level `aiorch` package, and `aiorch_client/_proto/contracts.py` naming the contracts'
digest the code was built from. Run by the wheel build (setup.py) and by `make`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "aiorch_client" / "_proto"
# In the repository the contracts sit two levels up; an sdist carries the generated code.
DEFAULT_PROTOS = HERE.parent.parent / "protos"
PREFIX = "aiorch_client._proto."
IMPORT = re.compile(r"^(from|import) aiorch\.v1\b", re.MULTILINE)


def generate(protos: Path = DEFAULT_PROTOS, out: Path = OUT) -> list[Path]:
    import google.api
    from grpc_tools import protoc

    sources = sorted((protos / "aiorch" / "v1").glob("*.proto"))
    if not sources:
        raise SystemExit(f"no .proto files under {protos}/aiorch/v1")
    googleapis = Path(google.api.__path__[0]).parent.parent
    shutil.rmtree(out, ignore_errors=True)
    (out / "aiorch" / "v1").mkdir(parents=True)
    args = [
        "protoc",
        f"-I{protos}",
        f"-I{googleapis}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *map(str, sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = sorted(out.rglob("*.py*"))
    for path in written:
        path.write_text(IMPORT.sub(lambda m: f"{m[1]} {PREFIX}aiorch.v1", path.read_text()))
    for package in (out, out / "aiorch", out / "aiorch" / "v1"):
        (package / "__init__.py").touch()
    (out / "contracts.py").write_text(
        '"""Digest of the .proto contracts this code was generated from."""\n\n'
        f'CONTRACTS_SHA256 = "{contracts_digest(protos)}"\n'
    )
    return written


def contracts_digest(protos: Path = DEFAULT_PROTOS) -> str:
    """SHA-256 over the names and bytes of the contracts (aiorch/v1/*.proto)."""
    digest = hashlib.sha256()
    for source in sorted((protos / "aiorch" / "v1").glob("*.proto")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def generated_digest(out: Path = OUT) -> str:
    """The digest the generated code in `out` names (see contracts.py)."""
    found = re.search(
        r'^CONTRACTS_SHA256 = "([0-9a-f]{64})"$', (out / "contracts.py").read_text(), re.M
    )
    if found is None:
        raise SystemExit(f"{out / 'contracts.py'} names no contracts digest")
    return found[1]


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PROTOS)
