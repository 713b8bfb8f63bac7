"""Transcript files as the Analyze RPC takes them.

WebVTT (.vtt), SRT (.srt) and plain "Speaker: text" files go as text: the service parses
them (and reports a malformed one field by field). A JSON file is read here into
segments: either a list of {"speaker", "start", "end", "text"} or an object with a
"segments" list, so a mistake is reported with the file's own position.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiorch_client._proto.aiorch.v1 import meeting_intel_pb2 as pb

SEGMENT_FIELDS = {"speaker", "start", "end", "text"}


class TranscriptError(ValueError):
    """The file cannot be a transcript; says where and why."""


def segments_from_json(data) -> list[pb.TranscriptSegment]:
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TranscriptError('expected a list of segments or {"segments": [...]}')
    segments = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise TranscriptError(f"segments[{index}]: expected an object with a text")
        unknown = set(item) - SEGMENT_FIELDS
        if unknown:
            raise TranscriptError(f"segments[{index}]: unknown fields {sorted(unknown)}")
        try:
            segments.append(pb.TranscriptSegment(**item))
        except (TypeError, ValueError) as error:
            raise TranscriptError(f"segments[{index}]: {error}") from None
    return segments


def request_from_text(text: str, name: str = "", meeting_date: str = "") -> pb.AnalyzeRequest:
    """An AnalyzeRequest for a transcript's contents; `name` (a file name) picks JSON."""
    stripped = text.lstrip()
    if name.lower().endswith(".json") or (not name and stripped[:1] in "[{" and stripped):
        try:
            data = json.loads(text)
        except ValueError as error:
            raise TranscriptError(f"not valid JSON: {error}") from None
        return pb.AnalyzeRequest(segments=segments_from_json(data), meeting_date=meeting_date)
    return pb.AnalyzeRequest(transcript=text, meeting_date=meeting_date)


def request_from_file(path: str | Path, meeting_date: str = "") -> pb.AnalyzeRequest:
    """An AnalyzeRequest for a .vtt, .srt, .txt or .json transcript file."""
    path = Path(path)
    return request_from_text(path.read_text(encoding="utf-8-sig"), path.name, meeting_date)
