"""The `manifests` fixture: each overlay as kustomize renders it (kustomized.py)."""

from __future__ import annotations

import pytest

from tests.unit.deploy.kustomized import OVERLAYS, render


@pytest.fixture(params=OVERLAYS)
def manifests(request) -> tuple[dict, ...]:
    return render(request.param)
