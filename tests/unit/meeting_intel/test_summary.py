import pytest

from services.common.errors import InvalidInput
from services.meeting_intel import summary
from services.meeting_intel.sentences import split
from services.meeting_intel.transcript import parse_text

TEXT = (
    "Ann: The release of the mobile app is planned for the first week of June.\n"
    "Bob: My cat likes to sleep on the warm laptop keyboard all afternoon long.\n"
    "Cara: Testing of the mobile app release must finish before the end of May.\n"
    "Ann: What do we still need to finish for the mobile app release next month?\n"
    "Bob: The app store review of the release can take up to a whole week.\n"
    "Cara: Okay."
)


async def test_the_summary_is_the_central_statements_in_the_order_they_were_said(embed):
    sentences = split(parse_text(TEXT))
    vectors, _, _ = await embed([s.clean for s in sentences])
    chosen = summary.summarize(sentences, vectors, [0] * len(sentences), budget=30)
    texts = [s.clean for s in chosen]
    assert [s.index for s in chosen] == sorted(s.index for s in chosen)
    assert 2 <= len(texts) <= 3
    assert all("cat" not in t and not t.endswith("?") and t != "Okay." for t in texts)


def test_the_budget_grows_with_the_meeting_within_bounds():
    assert summary.word_budget(200) == summary.MIN_BUDGET
    assert summary.word_budget(5000) == 200
    assert summary.word_budget(100_000) == summary.MAX_BUDGET


def test_centrality_is_measured_within_each_topic():
    import numpy as np

    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    scores = summary.centrality(vectors, [0, 0, 1, 1])
    assert scores[0] == scores[1] == 1.0
    assert np.allclose([scores[2], scores[3]], 0.8)


async def test_a_summary_of_whole_sentences_fits_the_words_asked_for(embed):
    sentences = split(parse_text(TEXT))
    vectors, _, _ = await embed([s.clean for s in sentences])
    for budget in (15, 30, 45):
        chosen = summary.summarize(sentences, vectors, [0] * len(sentences), budget)
        assert chosen and sum(len(summary.quote(s).split()) for s in chosen) <= budget
        assert all(s in sentences for s in chosen)  # whole sentences, as cleaned
    # Shorter than every sentence: the shortest one, not nothing.
    [only] = summary.summarize(sentences, vectors, [0] * len(sentences), budget=3)
    assert only.words == min(s.words for s in sentences if s.words >= summary.MIN_WORDS)


def test_a_length_is_words_or_a_share_of_the_meeting_or_the_default():
    assert summary.Length(words=120).budget(10_000) == 120
    assert summary.Length(ratio=0.05).budget(10_000) == 500
    assert summary.Length(ratio=0.001).budget(100) == 1
    assert summary.Length().budget(5000) == summary.word_budget(5000)


@pytest.mark.parametrize(
    ("words", "ratio", "field"),
    [
        (0, None, "summary_words"),
        (summary.MAX_WORDS + 1, None, "summary_words"),
        (None, 0.0, "summary_ratio"),
        (None, 1.5, "summary_ratio"),
        (50, 0.1, "summary_words"),
    ],
)
def test_a_length_out_of_range_is_rejected_naming_its_field(words, ratio, field):
    with pytest.raises(InvalidInput) as caught:
        summary.Length(words=words, ratio=ratio)
    assert caught.value.violations[0].field == field


def test_a_summary_quotes_a_sentence_without_the_connective_that_tied_it_to_the_last():
    first, second, third = split(
        parse_text("Ann: And so the bulb will be inside the case.\nBob: But, well, no.\nAnn: Okay.")
    )
    assert summary.quote(first) == "The bulb will be inside the case."
    assert summary.quote(second) == "No."
    assert summary.quote(third) == "Okay."
