"""The client's generated code is built from the contracts of this commit.

`make` regenerates it when a .proto changes; a contract changed without regenerating (or a
stale copy of the client) fails here rather than at a caller's first unknown field.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiorch_client import CONTRACTS_SHA256

ROOT = Path(__file__).resolve().parents[3]


def load_generate():
    spec = importlib.util.spec_from_file_location(
        "client_generate", ROOT / "clients" / "python" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_client_names_the_digest_of_the_contracts_now():
    now = load_generate().contracts_digest(ROOT / "protos")
    assert now == CONTRACTS_SHA256, "protos/ changed since the client was generated: run make"


def test_the_digest_changes_with_any_contract(tmp_path):
    generate = load_generate()
    (tmp_path / "aiorch" / "v1").mkdir(parents=True)
    contract = tmp_path / "aiorch" / "v1" / "a.proto"
    contract.write_text('syntax = "proto3";\n')
    digests = {generate.contracts_digest(tmp_path)}
    contract.write_text('syntax = "proto3";\n// a comment\n')
    digests.add(generate.contracts_digest(tmp_path))
    contract.rename(contract.with_name("b.proto"))
    digests.add(generate.contracts_digest(tmp_path))
    assert len(digests) == 3
