"""The sync client is typed as the async one is: its methods are no `Any` to mypy.

Checked with the project's own mypy configuration, which `make lint` runs over the client.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[3]

USES = """
from aiorch_client import AsyncClient, Client


def sync(client: Client) -> None:
    reveal_type(client.classify("Bob will send the invoice", ["finance"]))
    reveal_type(client.run("classification", text="x"))
    reveal_type(client.watch("w-1"))
    reveal_type(client.health())
    client.classify(3)


async def asyncio(client: AsyncClient) -> None:
    reveal_type(await client.classify("Bob will send the invoice", ["finance"]))
"""


def test_mypy_checks_the_client_package_in_make_lint():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert "clients/python/aiorch_client" in config["files"]


def test_sync_methods_have_the_async_ones_arguments_and_awaited_results(tmp_path, monkeypatch):
    # The editable install is an import hook, which mypy does not follow.
    monkeypatch.setenv("MYPYPATH", str(ROOT / "clients" / "python"))
    uses = tmp_path / "uses.py"
    uses.write_text(USES)
    stdout, _, _ = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(uses),
        ]
    )
    lines = [line.split(": ", 1)[1] for line in stdout.splitlines()]
    proto = "aiorch_client._proto.aiorch.v1"
    assert lines == [
        f'note: Revealed type is "{proto}.classifier_pb2.ClassifyResponse"',
        f'note: Revealed type is "{proto}.orchestrator_pb2.Workflow"',
        f'note: Revealed type is "typing.Iterator[{proto}.orchestrator_pb2.WatchWorkflowResponse]"',
        f'note: Revealed type is "{proto}.orchestrator_pb2.GetServicesHealthResponse"',
        'error: Argument 1 has incompatible type "int"; expected "str"  [arg-type]',
        f'note: Revealed type is "{proto}.classifier_pb2.ClassifyResponse"',
    ], stdout
