import pytest

from services.meeting_intel.speakers import speaker_stats
from services.meeting_intel.transcript import Segment, Transcript, parse_text


def test_turns_are_runs_of_segments_and_share_is_by_words_without_times():
    transcript = parse_text("Ann: one two three.\nAnn: four.\nBob: five six.\nAnn: seven <laugh/>.")
    stats = {s.name: s for s in speaker_stats(transcript)}
    assert (stats["Ann"].turns, stats["Ann"].words) == (2, 5)
    assert (stats["Bob"].turns, stats["Bob"].words) == (1, 2)
    assert stats["Ann"].talk_share == pytest.approx(5 / 7)
    assert stats["Ann"].talk_seconds == 0


def test_share_is_by_time_when_the_transcript_is_timed_and_most_talk_comes_first():
    transcript = Transcript(
        [
            Segment("Ann", "a long sentence with many words in it", 0.0, 2.0),
            Segment("Bob", "short", 2.0, 8.0),
        ],
        "segments",
    )
    stats = speaker_stats(transcript)
    assert [s.name for s in stats] == ["Bob", "Ann"]
    assert stats[0].talk_share == pytest.approx(0.75)
    assert stats[0].talk_seconds == 6.0


def test_an_empty_turn_neither_counts_nor_splits_a_turn():
    transcript = Transcript(
        [
            Segment("Ann", "One two three.", 0.0, 3.0),
            Segment("Bob", "", 3.0, 3.0),
            Segment("Ann", "Four.", 3.0, 4.0),
            Segment("Bob", "Five six.", 4.0, 6.0),
        ],
        "segments",
    )
    stats = {s.name: s for s in speaker_stats(transcript)}
    assert (stats["Ann"].turns, stats["Ann"].talk_seconds) == (1, 4.0)
    assert (stats["Bob"].turns, stats["Bob"].words) == (1, 2)
