"""The orchestrator as one of several replicas: it refuses a store only one process can
share."""

from __future__ import annotations

import os
import subprocess
import sys

from services.common.settings import PROJECT_ROOT
from tools.suite import free_addr


def test_a_replica_refuses_to_start_on_sqlite_and_says_why(tmp_path):
    env = os.environ | {
        "AIORCH_ORCHESTRATOR_REPLICAS": "2",
        "AIORCH_DATABASE_URL": f"sqlite:///{tmp_path}/aiorch.db",
        "AIORCH_ORCHESTRATOR_ADDR": free_addr(),
        "AIORCH_ORCHESTRATOR_METRICS_ADDR": free_addr(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.orchestrator"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "orchestrator_replicas is 2, but the store is not PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr  # a message for an operator, not a crash
    assert not (tmp_path / "aiorch.db").exists()  # refused before it touched the store
