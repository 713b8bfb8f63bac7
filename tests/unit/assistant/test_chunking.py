"""Chunks of whole sentences whose offsets point into the original text."""

import itertools

from services.assistant.chunking import chunk_text, sentence_spans

TEXT = (
    "Dr. Smith reviewed the budget on Monday.  The team agreed to cut travel by 10%.\n\n"
    "Next steps: e.g. a new vendor review. Alice will send the draft by Friday."
)


def test_every_chunk_is_the_original_text_between_its_offsets():
    for max_chars in (30, 60, 100, 1000):
        for chunk in chunk_text(TEXT, max_chars):
            assert TEXT[chunk.start : chunk.end] == chunk.text
            assert chunk.text == chunk.text.strip()


def test_chunks_are_whole_sentences_when_sentences_fit():
    chunks = chunk_text(TEXT, 90)
    ends = {end for _, end in sentence_spans(TEXT)}
    assert len(chunks) > 1
    assert all(c.end in ends for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_a_short_text_is_one_chunk():
    (chunk,) = chunk_text(TEXT)
    assert (chunk.start, chunk.end) == (0, len(TEXT))


def test_abbreviations_do_not_end_a_sentence():
    starts = [TEXT[s:e] for s, e in sentence_spans(TEXT)]
    assert starts[0] == "Dr. Smith reviewed the budget on Monday."


def test_a_sentence_longer_than_a_chunk_is_cut_between_words_and_loses_nothing():
    text = " ".join(f"word{i}" for i in range(400))
    chunks = chunk_text(text, 100)
    assert all(len(c.text) <= 100 for c in chunks)
    assert " ".join(c.text for c in chunks) == text


def test_chunks_cover_every_sentence_in_order_without_overlap():
    text = (TEXT + " ") * 20
    chunks = chunk_text(text, 200)
    assert all(a.end <= b.start for a, b in itertools.pairwise(chunks))
    assert " ".join(c.text for c in chunks).split() == text.split()
