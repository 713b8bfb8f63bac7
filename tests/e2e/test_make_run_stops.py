"""`make run` stops as a user stops it: Ctrl-C ends every process cleanly. It has a
suite of its own, since stopping the shared one would take it from the other tests."""

from __future__ import annotations

import signal
import subprocess
import time

from tools.ready import SERVICES

from .conftest import running_suite


def _banner_printed(suite, timeout: float = 30) -> None:
    """The `ready` process prints its banner once it has its signal handlers: before that
    a Ctrl-C would stop it as it starts (rc -15), which is not what a user sees."""
    deadline = time.monotonic() + timeout
    while "aiorch is up" not in suite.log.read_text():
        assert time.monotonic() < deadline, suite.log.read_text()[-3000:]
        time.sleep(0.1)


def test_ctrl_c_stops_every_process_cleanly(tmp_path):
    with running_suite(tmp_path) as suite:
        _banner_printed(suite)
        children = subprocess.run(
            ["pgrep", "-P", str(suite.honcho.pid)], capture_output=True, text=True
        ).stdout.split()
        # Every service, Envoy and the `ready` banner.
        assert len(children) == len(SERVICES) + 2
        suite.honcho.send_signal(signal.SIGINT)
        suite.honcho.wait(20)
        log = suite.log.read_text()
    for name in (*SERVICES, "gateway", "ready"):
        assert f"{name}.1 stopped (rc=0)" in log, log[-3000:]
    alive = subprocess.run(
        ["ps", "-o", "pid=", "-p", ",".join(children)], capture_output=True, text=True
    ).stdout.split()
    assert alive == []
