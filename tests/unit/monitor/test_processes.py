import subprocess
import sys
import time

from services.monitor.processes import SuiteProcesses


def test_suite_processes_are_found_by_module_and_report_rss_then_cpu():
    # A stand-in whose command line names a suite module, as `python -m services.X` does.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "services.classifier"]
    )
    try:
        time.sleep(0.2)
        processes = SuiteProcesses()
        first = processes.sample()
        assert first["process.classifier.rss"][0] > 1_000_000
        assert "process.classifier.cpu" not in first  # its first reading is a baseline
        second = processes.sample()
        assert second["process.classifier.cpu"][1] == "percent"
        assert second["process.classifier.cpu"][0] >= 0
    finally:
        child.kill()
        child.wait()
