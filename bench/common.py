"""What every benchmark needs: free ports and real sentences."""

from __future__ import annotations

import csv
import socket
from pathlib import Path


def free_addr() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def sentences(stsb_csv: Path) -> list[str]:
    """Every distinct sentence of STS-B (tab-separated; some rows carry extra columns)."""
    seen = {}
    with open(stsb_csv, encoding="utf-8") as lines:
        for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
            for text in row[5:7]:
                seen.setdefault(text, None)
    return list(seen)
