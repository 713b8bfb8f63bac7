import numpy as np

from services.meeting_intel.vectors import MAX_CHARS, ExampleCache, embed_texts


async def test_each_distinct_text_is_embedded_once_in_calls_of_at_most_the_batch_size(embed):
    texts = [f"Sentence number {i}." for i in range(5)] * 2
    vectors = await embed_texts(texts, embed, batch_size=2)
    assert [len(call) for call in embed.calls] == [2, 2, 1]
    assert len(vectors.rows) == 5 and vectors.tokens > 0
    assert np.allclose(
        vectors.of(["Sentence number 3."]),
        embed.encoder.encode(["Sentence number 3."]).vectors,
        atol=1e-5,
    )


async def test_example_vectors_are_embedded_once_per_model(embed):
    cache = ExampleCache()
    first = await embed_texts(
        ["A transcript sentence."], embed, examples=["An example."], cache=cache
    )
    second = await embed_texts(["Another sentence."], embed, examples=["An example."], cache=cache)
    assert embed.calls == [["A transcript sentence.", "An example."], ["Another sentence."]]
    assert np.allclose(first.of(["An example."]), second.of(["An example."]))
    assert second.tokens < first.tokens

    embed.encoder = _Renamed(embed.encoder, "another-model")
    await embed_texts(["Third."], embed, examples=["An example."], cache=cache)
    assert embed.calls[-2:] == [["Third."], ["An example."]] and cache.model == "another-model"


async def test_a_run_on_sentence_is_cut_before_it_is_sent(embed):
    text = "word " * 5000
    vectors = await embed_texts([text], embed)
    assert len(embed.calls[0][0]) == MAX_CHARS and text in vectors


class _Renamed:
    """The same encoder answering under another model id (a redeployed service)."""

    def __init__(self, encoder, model_id):
        self.encoder, self.model_id = encoder, model_id

    def encode(self, texts):
        return self.encoder.encode(texts)
