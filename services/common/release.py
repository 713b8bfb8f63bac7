"""The aiorch release this process runs, as its installed metadata says."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata


@lru_cache
def release() -> str:
    try:
        return metadata.version("aiorch")
    except metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "unknown"
