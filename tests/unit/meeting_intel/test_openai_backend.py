from datetime import date

import jsonschema
import pytest

from services.common.llm import Usage
from services.meeting_intel import chunks as chunking
from services.meeting_intel import openai_backend as backend
from services.meeting_intel.sentences import split
from services.meeting_intel.transcript import Segment, parse_text

MEETING = """Ann: Good morning, let's start with the release plan for the mobile app.
Bob: The mobile release is blocked by the login bug on older phones.
Ann: When will the login bug be fixed?
Bob: The login bug will be fixed on Thursday, the patch is in review.
Ann: Good. We decided to ship the mobile release next Monday.
Cara: I'll update the release notes by Friday.
"""


def nothing(**changes) -> dict:
    return {
        "action_items": [],
        "decisions": [],
        "questions": [],
        "topics": [],
        "summary": "s",
        **changes,
    }


def test_chunks_keep_segments_whole_and_in_order_under_the_budget():
    segments = parse_text(MEETING).segments
    found = chunking.chunks(segments, 150)
    assert len(found) > 1
    assert [p.segment for chunk in found for p in chunk] == list(range(len(segments)))
    for chunk in found:
        assert sum(len(p.line) + 1 for p in chunk) <= 150


def test_a_transcript_under_the_budget_is_one_chunk():
    segments = parse_text(MEETING).segments
    assert len(chunking.chunks(segments, 10_000)) == 1


def test_a_segment_longer_than_a_chunk_is_cut_between_words_and_nothing_is_lost():
    text = " ".join(f"word{i}" for i in range(100))
    found = chunking.chunks([Segment("Ann", "Hi."), Segment("Bob", text)], 80)
    pieces = [p for chunk in found for p in chunk if p.segment == 1]
    assert len(pieces) > 1 and all(p.speaker == "Bob" for p in pieces)
    assert " ".join(p.text for p in pieces) == text
    assert all(sum(len(p.line) + 1 for p in chunk) <= 80 for chunk in found)


def test_a_word_longer_than_a_chunk_is_cut_inside():
    found = chunking.chunks([Segment("Ann", "x" * 50)], 20)
    assert "".join(p.text for chunk in found for p in chunk) == "x" * 50
    assert all(len(chunk[0].line) + 1 <= 20 for chunk in found)


def test_the_schemas_are_valid_bounded_and_strict():
    for schema in (backend.chunk_schema(3), backend.SUMMARY_SCHEMA):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False
        assert schema["required"] == list(schema["properties"])
    schema = backend.chunk_schema(3)
    assert schema["properties"]["decisions"]["maxItems"] == 3
    jsonschema.validate(nothing(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(nothing(decisions=["a", "b", "c", "d"]), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(nothing(summary=""), schema)


def test_the_list_limit_grows_with_the_chunk_within_bounds():
    assert backend.list_limit(600) == 2
    assert backend.list_limit(24_000) == 12
    assert backend.list_limit(10**6) == 12


def test_the_chunk_prompt_names_the_part_and_carries_every_line():
    chunk = chunking.chunks(parse_text(MEETING).segments, 10_000)[0]
    prompt = backend.chunk_prompt(chunk, 2, 3, 4)
    assert "part 2 of 3" in prompt and "at most 4 items" in prompt
    assert prompt.endswith("Cara: I'll update the release notes by Friday.")


def test_summary_groups_fit_the_budget_but_always_shorten_the_list():
    assert chunking.groups(["a" * 10] * 4, 25) == [["a" * 10] * 2, ["a" * 10] * 2]
    assert chunking.groups(["a" * 100] * 3, 10) == [["a" * 100] * 3]
    assert chunking.groups(["a", "b"], 1000) == [["a", "b"]]


def test_the_best_match_shares_most_words_and_ties_go_to_the_first():
    sentences = split(parse_text(MEETING))
    match = backend.best_match("update release notes", sentences)
    assert match.text == "I'll update the release notes by Friday."
    assert backend.best_match("zebra", sentences) == sentences[0]


def test_merging_keeps_order_drops_repeats_and_ownerless_items_resolves_dates_and_ties_spans():
    transcript = parse_text(MEETING)
    sentences = split(transcript)
    chunks = chunking.chunks(transcript.segments, 200)
    assert [[p.segment for p in chunk] for chunk in chunks] == [[0, 1, 2], [3, 4, 5]]
    first = nothing(
        action_items=[
            {"owner": "bob", "task": "Fix the login bug", "due": "on Thursday"},
            {"owner": "", "task": "  ", "due": ""},
        ],
        questions=["When will the login bug be fixed?"],
        topics=[{"title": "Release plan", "keywords": ["mobile", "release"]}],
    )
    second = nothing(
        action_items=[
            {"owner": "Bob", "task": "fix the login bug.", "due": ""},
            {"owner": "I", "task": "Update the release notes", "due": "by Friday"},
            {"owner": "Dan", "task": "Book a room", "due": "sometime"},
            {"owner": "", "task": "Send the minutes", "due": ""},
            {"owner": "We", "task": "Plan the launch party", "due": ""},
        ],
        decisions=["Ship the mobile release next Monday", "ship the mobile release next monday"],
        topics=[{"title": "release plan", "keywords": ["login", "mobile"]}],
    )
    replies = [(chunks[0], first), (chunks[1], second)]
    items, decided, asked, found_topics = backend.merge(
        transcript, sentences, replies, date(2024, 5, 15)
    )
    assert [(i.owner, i.task, i.due) for i in items] == [
        ("Bob", "Fix the login bug", date(2024, 5, 16)),
        ("Cara", "Update the release notes", date(2024, 5, 17)),
        ("Dan", "Book a room", None),
    ]
    assert items[1].sentence.segment == 5
    assert [(d.text, d.sentence.segment) for d in decided] == [
        ("Ship the mobile release next Monday", 4)
    ]
    assert [(q.asked_by, q.sentence.segment) for q in asked] == [("Ann", 2)]
    assert [(t.title, t.keywords, t.start_segment) for t in found_topics] == [
        ("Release plan", ["mobile", "release", "login"], 0)
    ]
    assert found_topics[0].end_segment == 5


def test_without_a_meeting_date_only_dates_with_a_year_resolve():
    transcript = parse_text(MEETING)
    chunk = chunking.chunks(transcript.segments, 10_000)[0]
    data = nothing(
        action_items=[
            {"owner": "Cara", "task": "Update the notes", "due": "by Friday"},
            {"owner": "Bob", "task": "Fix the bug", "due": "2024-06-01"},
        ]
    )
    items, *_ = backend.merge(transcript, split(transcript), [(chunk, data)], None)
    assert [i.due for i in items] == [None, date(2024, 6, 1)]


def test_a_summary_cut_at_the_limit_loses_its_unfinished_sentence():
    cut = "One thing. Two things. And then th"
    assert backend.whole_sentences(cut, len(cut)) == "One thing. Two things."
    assert backend.whole_sentences(cut, 1000) == cut
    assert backend.whole_sentences("no stop at all", 5) == "no stop at all"


def test_usages_add_up():
    total = backend.add([Usage(10, 2, 0.5), Usage(5, 1, 0.25)])
    assert total == Usage(15, 3, 0.75)


def test_a_summary_longer_than_asked_is_cut_after_its_last_whole_sentence_that_fits():
    text = "One two three. Four five six seven. Eight nine"
    assert backend.within_words(text, 20) == text
    assert backend.within_words(text, 8) == "One two three. Four five six seven."
    assert backend.within_words(text, 5) == "One two three."
    assert backend.within_words(text, 2) == "One two three."  # nothing fits: the first
    assert backend.within_words("no stop at all here", 2) == "no stop"


def test_the_reduce_prompt_and_schema_take_the_length_asked_for():
    assert "about 120 words" in backend.summary_prompt(["a.", "b."], 120)
    assert "three sentences" in backend.summary_prompt(["a.", "b."])
    schema = backend.summary_schema(120)
    assert schema["properties"]["summary"]["maxLength"] == 120 * backend.CHARS_PER_WORD
    assert backend.summary_schema() == backend.SUMMARY_SCHEMA
