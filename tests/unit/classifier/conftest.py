"""The classifier's `embed` callable over the real local encoder, counting its calls."""

from __future__ import annotations

import pytest

from tests.embed_calls import CountingEmbed


@pytest.fixture
def embed(encoder):
    return CountingEmbed(encoder)
