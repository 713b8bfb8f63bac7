"""The meeting analysis's `embed` callable over the real local encoder, counting its calls."""

from __future__ import annotations

import pytest

from services.embeddings.client import embed_texts
from services.meeting_intel.sentences import split
from services.meeting_intel.transcript import parse_text
from tests.embed_calls import CountingEmbed


@pytest.fixture
def embed(encoder):
    return CountingEmbed(encoder)


@pytest.fixture
def prepare(embed):
    """Parses a transcript and embeds its sentences and `extra` texts, as analysis does."""

    async def prepare(text: str, extra=()):
        transcript = parse_text(text)
        sentences = split(transcript)
        vectors = await embed_texts([*(s.clean for s in sentences), *extra], embed)
        return transcript, sentences, vectors

    return prepare
