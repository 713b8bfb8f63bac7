from datetime import date

from services.embeddings.client import VectorCache
from services.meeting_intel.analysis import analyze
from services.meeting_intel.transcript import parse_text
from tests.meeting_samples import MEETING


async def test_one_analysis_gives_every_finding_from_one_embeddings_call(embed):
    result = await analyze(parse_text(MEETING), embed, date(2024, 5, 15))
    assert len(embed.calls) == 1
    shares = [s.talk_share for s in result.speakers]
    assert {s.name for s in result.speakers} == {"Ann", "Bob", "Cara"}
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 1) < 1e-9
    # Bob's "Sure, I will send it tomorrow." names no task of its own: it dates the request.
    assert [(i.owner, i.due) for i in result.action_items] == [
        ("Cara", date(2024, 5, 17)),
        ("Bob", date(2024, 5, 16)),
    ]
    assert [d.text for d in result.decisions] == [
        "We decided to ship the mobile release next Monday."
    ]
    assert [q.asked_by for q in result.questions] == ["Cara"]
    assert result.topics and result.topics[0].start_segment == 0
    assert result.topics[-1].end_segment == 10
    assert 20 <= len(result.summary_text.split()) <= 60
    assert result.tokens > 0 and result.model == embed.encoder.model_id


async def test_a_long_meeting_is_embedded_in_one_pass_each_sentence_once(embed):
    # The embeddings client splits the pass into calls the service takes.
    lines = [f"Ann: Item number {i % 150} of the inventory is checked." for i in range(300)]
    result = await analyze(parse_text("\n".join(lines)), embed)
    assert len(embed.calls) == 1 and len(set(embed.calls[0])) == len(embed.calls[0])
    assert sum("inventory" in text for text in embed.calls[0]) == 150
    assert result.speakers[0].turns == 1 and result.speakers[0].talk_share == 1.0


async def test_a_meeting_of_greetings_has_speakers_and_nothing_else(embed):
    examples = VectorCache()
    await analyze(parse_text(MEETING), embed, examples=examples)
    result = await analyze(parse_text("Ann: Hi.\nBob: Hello, Ann."), embed, examples=examples)
    assert [s.name for s in result.speakers] == ["Bob", "Ann"]
    assert not (result.action_items or result.decisions or result.questions or result.summary)
    assert len(embed.calls) == 1 and result.model == embed.encoder.model_id
