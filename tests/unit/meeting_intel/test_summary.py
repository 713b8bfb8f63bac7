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
