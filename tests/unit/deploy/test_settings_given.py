"""Every variable the deployments give a process is one the code reads, with a value its
settings accept: a misspelt name would be ignored without a word (the settings ignore
unknown variables), and a bad value would stop the pod at start."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from gateway import render as gateway_render
from services.common import telemetry
from tests.unit.deploy.kustomized import K8S, ROOT, env, server, suite
from tools.settings import SuiteSettings

# Read outside the settings class: by the runtime (services/common/server.py), and the
# gateway's edge rules by gateway/render.py.
READ_ELSEWHERE = {"AIORCH_REFLECTION"}
GATEWAY_NAMES = set(re.findall(r"AIORCH_GATEWAY_\w+", Path(gateway_render.__file__).read_text()))
# ...and the OpenTelemetry ones it reads for Envoy's tracer (the endpoint's through the
# runtime's telemetry module).
GATEWAY_NAMES |= set(
    re.findall(
        r"OTEL_\w+",
        Path(gateway_render.__file__).read_text() + Path(telemetry.__file__).read_text(),
    )
)
# What a Secret or the downward API stands for when the settings check the value.
STAND_INS = {
    "database-url": "postgresql://aiorch@postgres:5432/aiorch",
    "redis-url": "redis://redis:6379/0",
    "activity-key": "k" * 64,
    "log-key": "l" * 64,
    "openai-api-key": "sk-test",
}


def known(name: str) -> bool:
    if name in READ_ELSEWHERE or name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        return True
    return name.startswith("AIORCH_") and name[7:].lower() in SuiteSettings.model_fields


def concrete(value: str) -> str:
    if value.startswith("secretKeyRef:"):
        return STAND_INS[value.rsplit("/", 1)[1]]
    if value.startswith("fieldRef:"):
        return "orchestrator-7d9f-abcde"
    return value


def test_every_variable_a_process_is_given_is_read_and_accepted(manifests, monkeypatch):
    for name, deployment in suite(manifests).items():
        if name == "gateway":
            continue
        given = env(server(deployment), manifests)
        unknown = {k for k in given if k.startswith(("AIORCH_", "OPENAI_")) and not known(k)}
        assert not unknown, (name, unknown)
        for key in [k for k in os.environ if k.startswith("AIORCH_")]:
            monkeypatch.delenv(key)
        for key, value in given.items():
            monkeypatch.setenv(key, concrete(value))
        SuiteSettings()  # raises on a value it does not accept


@pytest.mark.parametrize("overlay", ["base", "overlays/local", "overlays/production"])
def test_every_gateway_variable_is_one_the_render_reads(overlay):
    path = K8S / overlay / "gateway.env"
    names = {
        line.split("=", 1)[0]
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for name in names:
        assert name in GATEWAY_NAMES or known(name), name


def test_every_variable_of_the_compose_run_is_read():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        for key in service.get("environment") or {}:
            if key.startswith("AIORCH_"):
                assert key in GATEWAY_NAMES or known(key), (name, key)
