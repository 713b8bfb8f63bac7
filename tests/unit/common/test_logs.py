import json
import logging

from services.common.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_its_extra_fields():
    record = logging.makeLogRecord(
        {
            "name": "aiorch.rpc",
            "levelname": "INFO",
            "msg": "rpc %s",
            "args": ("done",),
            "method": "/x/Y",
            "ms": 1.5,
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "rpc done"
    assert entry["method"] == "/x/Y" and entry["ms"] == 1.5
    assert entry["ts"].endswith("Z")
