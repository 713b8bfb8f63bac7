"""Fixtures shared by every test level."""

from __future__ import annotations

import pytest

from services.common.settings import Settings
from services.embeddings.model import SentenceEncoder


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Defaults, with a store of the test session's own."""
    db = tmp_path_factory.mktemp("store") / "aiorch.db"
    return Settings(database_url=f"sqlite:///{db}")


@pytest.fixture(scope="session")
def encoder(settings) -> SentenceEncoder:
    """The real local model, loaded once."""
    return SentenceEncoder(
        settings.embeddings_tokenizer_path, max_tokens=settings.embeddings_max_tokens
    )
