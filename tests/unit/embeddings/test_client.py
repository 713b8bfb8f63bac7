"""embed_texts and VectorCache: every vector a request needs, each distinct text embedded
once, recurring texts cached per model (services/embeddings/client.py)."""

import asyncio

import numpy as np
import pytest

from services.embeddings.client import VectorCache, embed_texts
from tests.embed_calls import CountingEmbed


@pytest.fixture
def embed(encoder):
    return CountingEmbed(encoder)


async def test_fresh_and_reusable_texts_come_back_from_one_call_each_text_once(embed):
    vectors = await embed_texts(["a text", "a text", "another"], embed, ["a label"])
    assert embed.calls == [["a text", "another", "a label"]]
    assert vectors.of(["another", "a label"]).shape == (2, 384)
    assert np.allclose(vectors.of(["another"]), embed.encoder.encode(["another"]).vectors)
    assert vectors.model == embed.encoder.model_id and vectors.tokens > 0
    assert "a label" in vectors and "unseen" not in vectors


async def test_no_texts_make_no_call_and_an_empty_selection_keeps_its_width(embed):
    vectors = await embed_texts(["one"], embed)
    assert vectors.of([]).shape == (0, 384)
    nothing = await embed_texts([], embed)
    assert embed.calls == [["one"]] and nothing.of([]).shape == (0, 0)


async def test_reusable_vectors_are_cached_and_cost_no_tokens_the_second_time(embed):
    cache = VectorCache()
    first = await embed_texts(["the text"], embed, ["label one", "label two"], cache)
    second = await embed_texts(["other text"], embed, ["label one", "label two"], cache)
    assert embed.calls[1] == ["other text"]
    assert second.tokens < first.tokens
    assert (second.of(["label two"]) == first.of(["label two"])).all()


async def test_a_new_model_makes_cached_vectors_be_embedded_again(encoder, embed):
    cache = VectorCache()
    await embed_texts(["the text"], embed, ["label"], cache)
    other = CountingEmbed(encoder, model_id="another-model")
    vectors = await embed_texts(["the text"], other, ["label"], cache)
    assert other.calls == [["the text"], ["label"]]
    assert vectors.model == "another-model" and cache.model == "another-model"
    assert cache.get("label") is not None


def test_the_cache_forgets_the_least_recently_used_beyond_its_size():
    cache = VectorCache(maxsize=2)
    cache.model = "m"
    for text in ("a", "b", "c"):
        cache.put("m", text, [1.0])
    assert cache.get("a") is None
    assert cache.get("c") == pytest.approx([1.0])


async def test_concurrent_requests_embed_shared_label_texts_once(embed):
    # Single-flight: a cold label set hit by many requests at once is embedded by one.
    cache = VectorCache()
    labels = [f"label {i}" for i in range(50)]
    results = await asyncio.gather(
        *(embed_texts([f"text {i}"], embed, labels, cache) for i in range(8))
    )
    embedded = [text for call in embed.calls for text in call]
    assert sorted(embedded) == sorted([*labels, *(f"text {i}" for i in range(8))])
    first = results[0].of(labels)
    assert all((r.of(labels) == first).all() for r in results)


async def test_when_the_call_embedding_shared_texts_fails_the_waiters_embed_them(encoder):
    class FailingOnce(CountingEmbed):
        async def __call__(self, texts):
            if not self.calls:
                self.calls.append(list(texts))
                await asyncio.sleep(0)
                raise RuntimeError("down")
            return await super().__call__(texts)

    cache = VectorCache()
    embed = FailingOnce(encoder)
    first, second = await asyncio.gather(
        embed_texts(["a"], embed, ["label"], cache),
        embed_texts(["b"], embed, ["label"], cache),
        return_exceptions=True,
    )
    assert isinstance(first, RuntimeError)
    assert second.of(["label"]).shape == (1, 384)
    assert cache.pending == {}
