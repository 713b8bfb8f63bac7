"""Who spoke, how often and how much: turns, words, seconds and share of the talk."""

from __future__ import annotations

from dataclasses import dataclass

from services.meeting_intel.sentences import words
from services.meeting_intel.transcript import Transcript


@dataclass(frozen=True)
class SpeakerStats:
    name: str
    turns: int  # runs of consecutive segments by this speaker
    words: int
    talk_share: float  # 0..1: by time when the transcript is timed, else by words
    talk_seconds: float  # 0 when the transcript has no times


def speaker_stats(transcript: Transcript) -> list[SpeakerStats]:
    """Every speaker, most talk first (ties: who spoke first)."""
    turns: dict[str, int] = {}
    word_counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    previous = None
    timed = transcript.timed
    for segment in transcript.spoken:  # an empty turn neither counts nor splits a turn
        name = segment.speaker
        if name != previous:
            turns[name] = turns.get(name, 0) + 1
        previous = name
        word_counts[name] = word_counts.get(name, 0) + words(segment.text)
        if timed and segment.start is not None and segment.end is not None:
            seconds[name] = seconds.get(name, 0.0) + max(0.0, segment.end - segment.start)
    total_seconds = sum(seconds.values())
    total_words = sum(word_counts.values())
    by_time = timed and total_seconds > 0
    stats = [
        SpeakerStats(
            name=name,
            turns=turns[name],
            words=word_counts[name],
            talk_share=(
                seconds[name] / total_seconds
                if by_time
                else word_counts[name] / total_words
                if total_words
                else 0.0
            ),
            talk_seconds=round(seconds.get(name, 0.0), 3),
        )
        for name in turns
    ]
    order = {name: i for i, name in enumerate(turns)}
    return sorted(stats, key=lambda s: (-s.talk_share, order[s.name]))
