import asyncio

import pytest

from services.classifier.vectors import VectorCache, embed_texts


async def test_fresh_and_reusable_texts_come_back_from_one_call_each_text_once(embed):
    vectors = await embed_texts(["a text", "a text", "another"], ["a label"], embed)
    assert embed.calls == [["a text", "another", "a label"]]
    assert vectors.of(["another", "a label"]).shape == (2, 384)
    assert vectors.model == embed.model_id and vectors.tokens > 0


async def test_calls_are_split_at_the_batch_size(embed):
    texts = [f"text {i}" for i in range(600)]
    vectors = await embed_texts(texts, [], embed, batch_size=256)
    assert [len(call) for call in embed.calls] == [256, 256, 88]
    assert vectors.of(texts).shape == (600, 384)


async def test_reusable_vectors_are_cached_and_cost_no_tokens_the_second_time(embed):
    cache = VectorCache()
    first = await embed_texts(["the text"], ["label one", "label two"], embed, cache)
    second = await embed_texts(["the text"], ["label one", "label two"], embed, cache)
    assert embed.calls[1] == ["the text"]
    assert second.tokens < first.tokens
    assert (second.of(["label two"]) == first.of(["label two"])).all()


async def test_a_new_model_makes_cached_vectors_be_embedded_again(encoder, embed):
    from .conftest import CountingEmbed

    cache = VectorCache()
    await embed_texts(["the text"], ["label"], embed, cache)
    other = CountingEmbed(encoder, model_id="another-model")
    vectors = await embed_texts(["the text"], ["label"], other, cache)
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
        *(embed_texts([f"text {i}"], labels, embed, cache) for i in range(8))
    )
    embedded = [text for call in embed.calls for text in call]
    assert sorted(embedded) == sorted([*labels, *(f"text {i}" for i in range(8))])
    first = results[0].of(labels)
    assert all((r.of(labels) == first).all() for r in results)


async def test_when_the_call_embedding_shared_texts_fails_the_waiters_embed_them(encoder):
    from .conftest import CountingEmbed

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
        embed_texts(["a"], ["label"], embed, cache),
        embed_texts(["b"], ["label"], embed, cache),
        return_exceptions=True,
    )
    assert isinstance(first, RuntimeError)
    assert second.of(["label"]).shape == (1, 384)
    assert cache.pending == {}


async def test_a_request_keeps_a_few_embed_calls_in_flight_not_all(encoder):
    from .conftest import CountingEmbed

    class Concurrency(CountingEmbed):
        running = peak = 0

        async def __call__(self, texts):
            self.running += 1
            self.peak = max(self.peak, self.running)
            await asyncio.sleep(0.01)
            self.running -= 1
            return await super().__call__(texts)

    embed = Concurrency(encoder)
    texts = [f"t{i}" for i in range(10)]
    vectors = await embed_texts(texts, [], embed, batch_size=1)
    assert vectors.of(texts).shape == (10, 384)
    assert 1 < embed.peak <= 4
