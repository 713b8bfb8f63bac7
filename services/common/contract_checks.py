"""Checks of the request parts two contracts share: labels (`Label` and a taxonomy name,
in ClassifyRequest and WorkflowInput), meeting transcripts (text or
`TranscriptSegment`s and a meeting date, in AnalyzeRequest and WorkflowInput) and a
question to the assistant (ChatRequest, and WorkflowInput's text and session_id).

The orchestrator checks a workflow's input before it stores anything, and the capability
checks the same fields when it is called directly: both call these, so a bad request gets
the same field violation in the same words from either (the orchestrator's fields sit
under `input.`). The limits are settings, which is why these are code and not field rules
in the protos.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from services.common.errors import InvalidInput
from services.common.validation import require_text

# The built-in taxonomies a request may name instead of labels; their labels are the
# classifier's (services/classifier/taxonomies.py).
TAXONOMIES = ("document_types",)
# A label name is a name, not a document; it is embedded inside the classifier's templates.
MAX_LABEL_NAME_CHARS = 200
# Examples per label: a head gains little past a few dozen, and each costs an embedding.
MAX_LABEL_EXAMPLES = 100
# A registered label set's id: the prefix and a hash of its content (the classifier's
# RegisterLabelSet), never longer than this.
LABEL_SET_PREFIX = "ls-"
MAX_LABEL_SET_ID_CHARS = 64
# The longest meeting summary a caller may ask for, in words.
MAX_SUMMARY_WORDS = 5000


class Label(Protocol):
    """A `Label` message, or the classifier's LabelSpec."""

    name: str
    description: str
    examples: Sequence[str]


class Segment(Protocol):
    """A `TranscriptSegment` message."""

    text: str


def check_summary_length(words: int | None, ratio: float | None) -> None:
    """A summary length asked as `words` or as a `ratio` of the meeting's words."""
    if words is not None and ratio is not None:
        raise InvalidInput("summary_words", "give summary_words or summary_ratio, not both")
    if words is not None and not 1 <= words <= MAX_SUMMARY_WORDS:
        raise InvalidInput("summary_words", f"is {words}, not within 1..{MAX_SUMMARY_WORDS}")
    if ratio is not None and not 0 < ratio <= 1:
        raise InvalidInput("summary_ratio", f"is {ratio}, not more than 0 and at most 1")


def requested_summary_length(message) -> tuple[int | None, float | None]:
    """(words, ratio) that a message's `summary_length` oneof asks for (AnalyzeRequest,
    WorkflowInput), checked; (None, None) when it asks none."""
    chosen = message.WhichOneof("summary_length")
    words = message.summary_words if chosen == "summary_words" else None
    ratio = message.summary_ratio if chosen == "summary_ratio" else None
    check_summary_length(words, ratio)
    return words, ratio


def check_label_set_id(value: str, field: str = "label_set_id") -> None:
    if len(value) > MAX_LABEL_SET_ID_CHARS or not value.startswith(LABEL_SET_PREFIX):
        raise InvalidInput(field, "is not a label set id (RegisterLabelSet gives one)")


def check_labels(
    labels: Sequence[Label], taxonomy: str, max_labels: int, max_chars: int, label_set_id: str = ""
) -> None:
    """`labels`, or when there are none a registered `label_set_id`, or the `taxonomy`
    name."""
    if not labels and label_set_id:
        check_label_set_id(label_set_id)
        return
    if not labels and taxonomy:
        if taxonomy not in TAXONOMIES:
            raise InvalidInput("taxonomy", f"unknown taxonomy; known: {', '.join(TAXONOMIES)}")
        return
    if not labels:
        raise InvalidInput("labels", "give at least one label, a label set id, or a taxonomy")
    if len(labels) > max_labels:
        raise InvalidInput("labels", f"has {len(labels)} labels, more than {max_labels}")
    seen = set()
    for i, label in enumerate(labels):
        name = label.name.strip()
        if not name:
            raise InvalidInput(f"labels[{i}].name", "must not be empty")
        if len(name) > MAX_LABEL_NAME_CHARS:
            raise InvalidInput(
                f"labels[{i}].name",
                f"has {len(name)} characters, more than {MAX_LABEL_NAME_CHARS}",
            )
        if name.casefold() in seen:
            raise InvalidInput(f"labels[{i}].name", f"duplicate label {name!r}")
        seen.add(name.casefold())
        if len(label.description) > max_chars:
            raise InvalidInput(
                f"labels[{i}].description",
                f"has {len(label.description)} characters, more than {max_chars}",
            )
        if len(label.examples) > MAX_LABEL_EXAMPLES:
            raise InvalidInput(
                f"labels[{i}].examples",
                f"has {len(label.examples)} examples, more than {MAX_LABEL_EXAMPLES}",
            )
        for j, example in enumerate(label.examples):
            if not example.strip() or len(example) > max_chars:
                raise InvalidInput(
                    f"labels[{i}].examples[{j}]",
                    f"must be non-empty text of at most {max_chars} characters",
                )


def check_transcript(
    text: str,
    segments: Sequence[Segment],
    text_field: str,
    max_chars: int,
    max_segments: int,
) -> None:
    """A transcript given as text (in the field named `text_field`) or as `segments`."""
    if not segments:
        require_text(text, text_field, max_chars)
        return
    if text:
        raise InvalidInput("segments", f"give {text_field} or segments, not both")
    if len(segments) > max_segments:
        raise InvalidInput(
            "segments", f"has {len(segments)} segments, more than the limit of {max_segments}"
        )
    if not any(s.text.strip() for s in segments):
        raise InvalidInput("segments", "has no words")
    if (size := sum(len(s.text) for s in segments)) > max_chars:
        raise InvalidInput(
            "segments", f"hold {size} characters, more than the limit of {max_chars}"
        )


def meeting_date(value: str, field: str = "meeting_date") -> date | None:
    """The request's meeting date (YYYY-MM-DD), None when not given."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date as YYYY-MM-DD") from None


# The longest message the assistant answers, and the longest session id it knows.
MAX_MESSAGE_CHARS = 4000
MAX_SESSION_ID_CHARS = 64


def check_question(message: str, session_id: str, message_field: str = "message") -> None:
    """A message to the assistant and the session it continues (empty: a new one)."""
    require_text(message, message_field, MAX_MESSAGE_CHARS)
    if session_id:
        require_text(session_id, "session_id", MAX_SESSION_ID_CHARS)
