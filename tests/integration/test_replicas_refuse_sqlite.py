"""A service run as replicas refuses a store only one process can share, and says why to an
operator, before it touched the store."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.common.settings import PROJECT_ROOT
from tools.suite import free_addr


@pytest.mark.parametrize("service", ["orchestrator", "monitor"])
def test_a_replica_refuses_to_start_on_sqlite_and_says_why(tmp_path, service):
    prefix = f"AIORCH_{service.upper()}"
    env = os.environ | {
        f"{prefix}_REPLICAS": "2",
        "AIORCH_DATABASE_URL": f"sqlite:///{tmp_path}/aiorch.db",
        f"{prefix}_ADDR": free_addr(),
        f"{prefix}_METRICS_ADDR": free_addr(),
    }
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"{service}_replicas is 2, but the store is not PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr  # a message for an operator, not a crash
    assert not (tmp_path / "aiorch.db").exists()
