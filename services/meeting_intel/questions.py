"""Open questions: asked, and not answered by anyone else soon after.

A question is a sentence ending in "?", or, in transcripts without punctuation, one that
opens with an inverted auxiliary ("do you ...", "can we ..."). Tag questions ("..., right?")
meeting mechanics and repair ("can you hear me?", "what do you mean?", found by
similarity to such examples) ask for nothing worth reporting; requests ("can you send
...?") are action items, not questions.

It counts as answered when, within the next few turns, another speaker
- replies to a yes/no question (any without a wh-word: "So we are done?") with a direct
  answer in its first words ("yes", "normally, yes", "no", "sure", "I think ..."),
- replies to a when/who/how-many question with a date, a person or a number, or
- says something close in meaning to it (embedding similarity): answers restate their
  question's subject ("When is the deadline?" - "The deadline is the 30th.").
"I don't know" answers nothing. Whatever is left is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.embeddings.client import Vectors
from services.meeting_intel.dates import EXPRESSION as DATE_EXPRESSION
from services.meeting_intel.sentences import Sentence

WINDOW_SEGMENTS = 3  # turns after the question's own in which an answer may come
MIN_WORDS = 4
# Replies to answered questions in ELITR meetings mostly reach 0.3, to unanswered ones
# mostly stay below 0.25.
ANSWER_SIMILARITY = 0.3
MECHANICS = (
    "Can you hear me?",
    "Can you see my screen?",
    "Is my microphone working?",
    "Are you still there?",
    "Should I share my screen?",
    "How are you?",
    "Is it recording?",
    "Can everyone see the document?",
    "Are you on the call?",
    "Do you hear me?",
    "What do you mean?",
    "Sorry, could you repeat that?",
)
MECHANICS_SIMILARITY = 0.7

_INVERTED = re.compile(
    r"^(?:(?:so|and|but|okay|then)\s+)*(?:do|does|did|is|are|can|could|should|will|would"
    r"|have|has)\s+(?:you|we|i|they|he|she|it|anyone|anybody|someone|everyone|there)\b",
    re.IGNORECASE,
)
_WH = re.compile(
    r"^(?:(?:so|and|but|okay|ok|then|or|well)[,\s]+)*(?:what|when|where|who|whom|whose|why"
    r"|which|how)\b",
    re.IGNORECASE,
)
# A yes/no answer says so in its first few words: "Yes, I have", "Normally, yes", "Not, no".
_DIRECT_ANSWER = re.compile(
    r"^\W*(?:[\w']+\W+){0,3}?(?:yes|yeah|yep|yup|no|nope|nah|sure|not|certainly|definitely"
    r"|absolutely|exactly|correct|of course|i think|i guess|i believe|probably|maybe)\b",
    re.IGNORECASE,
)
_NO_ANSWER = re.compile(
    r"\b(?:i don't know|i do not know|no idea|not sure|good question|i can't say)\b",
    re.IGNORECASE,
)
_TAG_QUESTION = re.compile(
    r",\s*(?:right|no|yes|yeah|okay|ok|isn't it|aren't they|don't you|correct|true)\?$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|dozen)\b", re.I)
_WH_CUES = {
    "when": lambda text, named: bool(DATE_EXPRESSION.search(text) or re.search(r"\d", text)),
    "who": lambda text, named: named or bool(re.match(r"(?:i|me|we)\b", text, re.I)),
    "how many": lambda text, named: bool(_NUMBER.search(text)),
    "how much": lambda text, named: bool(_NUMBER.search(text)),
    "how long": lambda text, named: bool(_NUMBER.search(text)),
}


@dataclass(frozen=True)
class Question:
    text: str
    asked_by: str
    sentence: Sentence


def asks(sentence: Sentence) -> bool:
    if sentence.is_question:
        return not _TAG_QUESTION.search(sentence.clean)
    return sentence.clean[-1:] not in ".!" and bool(_INVERTED.match(sentence.clean))


def open_questions(
    sentences: list[Sentence], vectors: Vectors, named_in=lambda text: []
) -> list[Question]:
    """Questions nobody answered, in transcript order. `named_in(text)` lists the speakers a
    text names (for "who" questions)."""
    asked = [s for s in sentences if s.words >= MIN_WORDS and asks(s) and s.clean in vectors]
    if not asked:
        return []
    mechanics = vectors.of(MECHANICS)
    by_segment: dict[int, list[Sentence]] = {}
    for sentence in sentences:
        by_segment.setdefault(sentence.segment, []).append(sentence)
    found = []
    for question in asked:
        vector = vectors.of([question.clean])[0]
        if float((mechanics @ vector).max()) >= MECHANICS_SIMILARITY:
            continue
        replies = [
            reply
            for segment in range(question.segment + 1, question.segment + 1 + WINDOW_SEGMENTS)
            for reply in by_segment.get(segment, [])
            if reply.speaker != question.speaker
        ]
        if not _answered(question, vector, replies, vectors, named_in):
            found.append(Question(question.clean, question.speaker, question))
    return found


def texts_to_embed() -> tuple[str, ...]:
    return MECHANICS


def _answered(question, vector, replies, vectors: Vectors, named_in) -> bool:
    if not replies:
        return False
    first = replies[0]
    if _NO_ANSWER.search(first.text):
        return False
    wh = _WH.match(question.clean)
    # Without a wh-word it asks yes or no, inverted or not ("So we are expecting him today?").
    if not wh and _DIRECT_ANSWER.match(first.text):
        return True
    lowered = f" {question.clean.lower()} "
    cue = next((w for w in _WH_CUES if f" {w} " in lowered), None)
    if cue and _WH_CUES[cue](first.text, bool(named_in(first.text))):
        return True
    candidates = [r.clean for r in replies if r.clean in vectors and not r.is_question]
    if not candidates:
        return False
    return float((vectors.of(candidates) @ vector).max()) >= ANSWER_SIMILARITY
