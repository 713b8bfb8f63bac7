"""The key under which user ids are pseudonymised, and the pseudonyms themselves.

A pseudonym is HMAC-SHA256(key, user id): stable, so one user's activities group
together, and without the key not reversible even by trying likely ids. Where the key
comes from:

- AIORCH_ACTIVITY_KEY, when set (at least 32 characters, e.g. `openssl rand -hex 32`).
  Required with a PostgreSQL store: every replica writing to it must use the same key.
- Otherwise, with the laptop's SQLite store, a key generated once into a file beside the
  database (or at AIORCH_ACTIVITY_KEY_FILE), readable only by its owner. The key belongs
  to the store it pseudonymises, so the two are kept, moved and deleted together.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

MIN_KEY_CHARS = 32


def pseudonym(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def fingerprint(key: bytes) -> str:
    """Names a key without revealing it, so a store can tell it was written under another."""
    return pseudonym(key, "aiorch activity key fingerprint")[:16]


def load_key(configured: str, key_file: str, database_url: str) -> bytes:
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise ValueError(
                f"AIORCH_ACTIVITY_KEY has {len(configured)} characters; use at least"
                f" {MIN_KEY_CHARS} (e.g. `openssl rand -hex 32`)"
            )
        return configured.encode()
    url = urlparse(database_url)
    if url.scheme != "sqlite":
        raise ValueError(
            "AIORCH_ACTIVITY_KEY is required with a shared store: every replica must"
            " pseudonymise user ids under the same key (e.g. from a Kubernetes Secret)"
        )
    if not key_file and url.path == "/:memory:":
        return secrets.token_hex(32).encode()  # lives exactly as long as the store
    return read_or_create(Path(key_file) if key_file else Path(url.path).with_name("activity.key"))


def read_or_create(path: Path) -> bytes:
    """The key in `path`, made there first if there is none. Processes starting together
    agree: the file appears whole (a hard link of a finished file) or not at all."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(f"{path} holds a key of {len(key)} characters, fewer than {MIN_KEY_CHARS}")
    return key.encode()
