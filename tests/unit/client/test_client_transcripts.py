"""Transcript files as Analyze requests: text formats pass through, JSON becomes segments."""

from __future__ import annotations

import json

import pytest
from aiorch_client.transcripts import TranscriptError, request_from_file, request_from_text


def test_vtt_and_srt_files_go_as_text_for_the_service_to_parse(tmp_path):
    path = tmp_path / "talk.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n<v Ann>Hi.\n")
    request = request_from_file(path, meeting_date="2026-05-04")
    assert request.transcript.startswith("WEBVTT")
    assert request.meeting_date == "2026-05-04"


def test_a_json_file_becomes_segments(tmp_path):
    path = tmp_path / "talk.json"
    path.write_text(json.dumps({"segments": [{"speaker": "Ann", "start": 1, "text": "Hi."}]}))
    [segment] = request_from_file(path).segments
    assert (segment.speaker, segment.start, segment.text) == ("Ann", 1.0, "Hi.")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[{", "not valid JSON"),
        ('{"turns": []}', "expected a list"),
        ('[{"speaker": "Ann"}]', "segments[0]"),
        ('[{"text": "Hi", "mood": "happy"}]', "mood"),
    ],
)
def test_a_malformed_json_transcript_says_where(text, where):
    with pytest.raises(TranscriptError, match=where.replace("[", r"\[")):
        request_from_text(text, "talk.json")
