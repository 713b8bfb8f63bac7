"""A knowledge store on each backend, and the real local model as the embedding call."""

from __future__ import annotations

import pytest

from services.assistant.store import KnowledgeStore
from services.common.database import Database


@pytest.fixture
async def store(database_url):
    db = await Database.open(database_url)
    yield await KnowledgeStore.open(db)
    await db.close()


@pytest.fixture(scope="session")
def embed(encoder):
    """The embeddings service's model, called in process: what the service would return."""

    async def embed(texts: list[str]):
        encoded = encoder.encode(texts)
        return encoded.vectors, sum(encoded.tokens), encoder.model_id

    return embed
