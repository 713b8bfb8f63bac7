import pytest

from services.common.errors import InvalidInput
from services.meeting_intel.transcript import from_segments, parse_text


def test_speaker_lines_become_segments_and_unprefixed_lines_continue_a_turn():
    transcript = parse_text(
        "Weekly sync\nAnn: Hello all.\nWe start now.\nBob Lee: Hi Ann.\nDr. Kay: The plan is: ship."
    )
    assert transcript.format == "speaker-lines"
    assert [(s.speaker, s.text) for s in transcript.segments] == [
        ("Ann", "Hello all. We start now."),
        ("Bob Lee", "Hi Ann."),
        ("Dr. Kay", "The plan is: ship."),
    ]
    assert not transcript.timed


def test_a_colon_inside_a_sentence_does_not_start_a_turn():
    transcript = parse_text("Ann: Listen.\nSo the plan is: we ship on Monday.")
    assert len(transcript.segments) == 1


def test_timestamped_speaker_lines_are_timed_by_the_next_line():
    transcript = parse_text("[00:00:05] Ann: Hello.\n[00:01:05] Bob: Hi.")
    assert [(s.start, s.end) for s in transcript.segments] == [(5.0, 65.0), (65.0, 65.0)]


def test_person_lines_of_the_elitr_corpus_are_parsed():
    transcript = parse_text("(PERSON6) So we wait?\n(PERSON3) Yes.\nHe is joining.\n")
    assert transcript.format == "person-lines"
    assert [(s.speaker, s.text) for s in transcript.segments] == [
        ("PERSON6", "So we wait?"),
        ("PERSON3", "Yes. He is joining."),
    ]


def test_webvtt_cues_give_times_and_speakers_from_voice_tags_or_prefixes():
    transcript = parse_text(
        "WEBVTT\n\nNOTE made by hand\n\n1\n00:00:01.000 --> 00:00:04.500 align:start\n"
        "<v Ann Smith>Hello <b>there</b>.</v>\n\n00:00:04.500 --> 00:00:06.000\nBob: Hi Ann.\n"
    )
    assert transcript.format == "webvtt"
    assert [(s.speaker, s.text, s.start, s.end) for s in transcript.segments] == [
        ("Ann Smith", "Hello there.", 1.0, 4.5),
        ("Bob", "Hi Ann.", 4.5, 6.0),
    ]


def test_srt_blocks_give_times_and_a_cue_without_a_speaker_is_unknown():
    transcript = parse_text(
        "1\n00:00:01,000 --> 00:00:02,500\nAnn: Hello\nthere.\n\n"
        "2\n00:01:02,000 --> 00:01:03,000\nHi.\n"
    )
    assert transcript.format == "srt"
    assert [(s.speaker, s.text, s.start, s.end) for s in transcript.segments] == [
        ("Ann", "Hello there.", 1.0, 2.5),
        ("unknown", "Hi.", 62.0, 63.0),
    ]


def test_a_json_array_given_as_text_is_read_as_segments():
    transcript = parse_text(
        '[{"speaker": "Ann", "start": 0, "end": 2.5, "text": "Hello."},'
        ' {"speaker": "Bob", "start": "00:02.5", "end": 4, "text": "Hi."}]'
    )
    assert transcript.format == "json"
    assert [(s.speaker, s.start, s.end) for s in transcript.segments] == [
        ("Ann", 0.0, 2.5),
        ("Bob", 2.5, 4.0),
    ]


def test_request_segments_without_times_are_untimed():
    transcript = from_segments(
        [
            {"speaker": "Ann", "start": 0, "end": 0, "text": "Hello."},
            {"speaker": "Bob", "text": "Hi."},
        ]
    )
    assert transcript.format == "segments" and not transcript.timed


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Just prose. No speakers anywhere.", "transcript"),
        ("WEBVTT\n\nNOTE nothing here\n", "transcript"),
        (
            '[{"speaker": "Ann", "text": "Hi."}, {"speaker": "Bob", "text": 5}]',
            "transcript[1].text",
        ),
        ('[{"speaker": "Ann", "text": "Hi.", "start": -1}]', "transcript[0].start"),
        ('[{"speaker": "Ann", "text": "Hi.", "start": 5, "end": 2}]', "transcript[0].end"),
        ('["Ann: hi"]', "transcript[0]"),
    ],
)
def test_unreadable_transcripts_are_rejected_naming_the_field(text, field):
    with pytest.raises(InvalidInput) as caught:
        parse_text(text)
    assert caught.value.violations[0].field == field


def test_a_bad_request_segment_is_named_by_its_index():
    with pytest.raises(InvalidInput) as caught:
        from_segments([{"speaker": "Ann", "text": "Hi."}, {"speaker": "Bob", "start": -2}])
    assert caught.value.violations[0].field == "segments[1].start"


def test_an_empty_turn_is_kept_in_place_but_not_spoken_and_times_ignore_it():
    transcript = from_segments(
        [
            {"speaker": "Ann", "text": "Hi all.", "start": 0, "end": 2},
            {"speaker": "Bob", "text": "  ", "start": 0, "end": 0},
            {"speaker": "Bob", "text": None},
            {"speaker": "Cara", "text": "Hello.", "start": 3, "end": 4},
        ]
    )
    assert [s.text for s in transcript.segments] == ["Hi all.", "", "", "Hello."]
    assert [s.speaker for s in transcript.spoken] == ["Ann", "Cara"]
    assert transcript.timed


@pytest.mark.parametrize(
    "speaker",
    [
        "Hon. Ahmed Hussen (Minister of Families, Children and Social Development)",
        "The Chair (Mr. Bob Saroya)",
        "Ms. Jennifer O'Connell (Pickering—Uxbridge, Lib.)",
        "Dr. Ann Lee",
    ],
)
def test_a_speaker_with_a_title_or_a_role_in_parentheses_starts_a_turn(speaker):
    transcript = parse_text(f"Ann: We begin.\n{speaker}: Thank you, Madam Chair.\nAnn: Good.")
    assert [s.speaker for s in transcript.segments] == ["Ann", speaker, "Ann"]
    assert transcript.segments[1].text == "Thank you, Madam Chair."
