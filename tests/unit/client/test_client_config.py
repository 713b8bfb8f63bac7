"""Where the client finds the suite: arguments over environment over config file."""

from __future__ import annotations

import json

import pytest
from aiorch_client import channel
from aiorch_client.config import DEFAULT_ADDRS, ClientConfig
from aiorch_client.errors import InvalidArgument, NotFound, ResourceExhausted, from_status
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from services.common import channels as service_channels


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("AIORCH_ENDPOINT", "AIORCH_TOKEN", "AIORCH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for service in DEFAULT_ADDRS:
        monkeypatch.delenv(f"AIORCH_{service.upper()}_ADDR", raising=False)
    monkeypatch.setenv("AIORCH_CONFIG", str(tmp_path / "none.toml"))


def test_with_nothing_set_every_service_has_its_local_default():
    config = ClientConfig.load()
    assert config.addrs == DEFAULT_ADDRS
    assert config.token is None
    assert config.timeout == 30


def test_the_config_file_is_overridden_by_the_environment_then_by_arguments(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(
        'endpoint = "file:1"\ntoken = "from-file"\ntimeout = 7\n[addrs]\nmonitor = "mon:2"\n'
    )
    config = ClientConfig.load(path=path)
    assert config.addrs["classifier"] == "file:1"
    assert config.addrs["monitor"] == "mon:2"
    assert (config.token, config.timeout) == ("from-file", 7)

    monkeypatch.setenv("AIORCH_CLASSIFIER_ADDR", "env:3")
    monkeypatch.setenv("AIORCH_TOKEN", "from-env")
    config = ClientConfig.load(path=path)
    assert config.addrs["classifier"] == "env:3"
    assert config.addrs["embeddings"] == "file:1"
    assert config.token == "from-env"

    config = ClientConfig.load("arg:4", token="from-arg", path=path)
    assert set(config.addrs.values()) == {"arg:4"}
    assert config.token == "from-arg"


def test_the_client_retries_exactly_as_the_services_do():
    assert json.loads(channel.SERVICE_CONFIG) == json.loads(service_channels.SERVICE_CONFIG)
    options = dict(service_channels.CHANNEL_OPTIONS)
    assert options.pop("grpc.service_config") == channel.SERVICE_CONFIG
    assert dict(channel.OPTIONS) == options


def packed(message) -> any_pb2.Any:
    value = any_pb2.Any()
    value.Pack(message)
    return value


def test_a_status_becomes_the_exception_of_its_code_with_its_details():
    bad = error_details_pb2.BadRequest(
        field_violations=[{"field": "input.text", "description": "is empty"}]
    )
    error = from_status(status_pb2.Status(code=3, message="bad", details=[packed(bad)]))
    assert isinstance(error, InvalidArgument)
    assert error.field_violations == {"input.text": "is empty"}

    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2))
    error = from_status(status_pb2.Status(code=8, message="busy", details=[packed(retry)]))
    assert isinstance(error, ResourceExhausted)
    assert error.retry_after == 2.0
    assert isinstance(from_status(status_pb2.Status(code=5)), NotFound)
