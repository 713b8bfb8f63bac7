"""Checks of labels, transcripts and meeting dates, each failure naming its field."""

from datetime import date

import pytest

from aiorch.v1 import meeting_intel_pb2 as mi
from services.classifier.taxonomies import TAXONOMIES
from services.classifier.zero_shot import LabelSpec
from services.common import contract_checks
from services.common.contract_checks import check_labels, check_transcript, meeting_date
from services.common.errors import InvalidInput


def _field(check, *args) -> str:
    with pytest.raises(InvalidInput) as caught:
        check(*args)
    return caught.value.violations[0].field


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ([], "labels"),
        ([LabelSpec("a"), LabelSpec(" ")], "labels[1].name"),
        ([LabelSpec("News"), LabelSpec("news")], "labels[1].name"),
        ([LabelSpec("a", examples=("",))], "labels[0].examples[0]"),
        ([LabelSpec(f"l{i}") for i in range(4)], "labels"),
        ([LabelSpec("a", examples=("x",) * 101)], "labels[0].examples"),
        ([LabelSpec("n" * 201)], "labels[0].name"),
        ([LabelSpec("a", description="d" * 101)], "labels[0].description"),
    ],
)
def test_bad_labels_are_rejected_naming_the_field(labels, field):
    assert _field(check_labels, labels, "", 3, 100) == field


def test_a_taxonomy_stands_in_for_labels_and_an_unknown_one_is_named():
    check_labels([], "document_types", 3, 100)
    assert _field(check_labels, [], "colours", 3, 100) == "taxonomy"


def test_the_contract_names_every_taxonomy_the_classifier_has():
    assert set(contract_checks.TAXONOMIES) == set(TAXONOMIES)


@pytest.mark.parametrize(
    ("text", "segments", "field"),
    [
        (" ", [], "transcript"),
        ("x" * 11, [], "transcript"),
        ("Ann: Hi.", [mi.TranscriptSegment(text="Hi.")], "segments"),
        ("", [mi.TranscriptSegment(text="Hi.")] * 3, "segments"),
        ("", [mi.TranscriptSegment(text=" ")], "segments"),
        ("", [mi.TranscriptSegment(text="x" * 11)], "segments"),
    ],
)
def test_a_bad_transcript_is_rejected_naming_the_field(text, segments, field):
    assert _field(check_transcript, text, segments, "transcript", 10, 2) == field


def test_a_transcript_as_text_or_as_segments_within_the_limits_passes():
    check_transcript("Ann: Hi.", [], "transcript", 10, 2)
    check_transcript("", [mi.TranscriptSegment(text="Hi.")] * 2, "transcript", 10, 2)


def test_meeting_date_is_iso_or_empty_and_a_bad_one_names_the_field():
    assert meeting_date("2024-05-15") == date(2024, 5, 15)
    assert meeting_date(" ") is None
    assert _field(meeting_date, "15/05/2024") == "meeting_date"
