"""What every benchmark needs: real sentences (free ports come from tools/suite.py)."""

from __future__ import annotations

import csv
from pathlib import Path


def sentences(stsb_csv: Path) -> list[str]:
    """Every distinct sentence of STS-B (tab-separated; some rows carry extra columns)."""
    seen = {}
    with open(stsb_csv, encoding="utf-8") as lines:
        for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
            for text in row[5:7]:
                seen.setdefault(text, None)
    return list(seen)
