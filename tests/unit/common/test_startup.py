"""What a service loads at start: a restart's downtime is its start time."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.common.settings import PROJECT_ROOT


@pytest.mark.parametrize("service", ["embeddings", "classifier", "meeting_intel", "assistant"])
def test_a_service_on_its_local_backend_starts_without_loading_openai(service):
    # openai took about a second to import (embeddings served after 2.8 s, now 1.4 s).
    code = f"import sys, services.{service}.__main__; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "'openai'" not in loaded
