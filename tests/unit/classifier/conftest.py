"""The classifier's `embed` callable over the real local encoder, counting its calls."""

from __future__ import annotations

import pytest


class CountingEmbed:
    def __init__(self, encoder, model_id=None):
        self.encoder = encoder
        self.model_id = model_id or encoder.model_id
        self.calls: list[list[str]] = []

    async def __call__(self, texts):
        self.calls.append(list(texts))
        encoded = self.encoder.encode(list(texts))
        return encoded.vectors, sum(encoded.tokens), self.model_id


@pytest.fixture
def embed(encoder):
    return CountingEmbed(encoder)
