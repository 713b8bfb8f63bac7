"""Decisions: what the meeting agreed on.

A candidate says so in the words meetings use ("we agreed", "we decided", "the decision
is", "let's go with", "we'll go ahead with", "agreed"). "Let's" also opens procedure
("let's see", "let's move on"), and "we agreed" can report an old decision in passing, so
each candidate is compared with examples of decisions and of look-alikes, and stays when
it is closer to a decision. A sentence without the words but very close to a decision
example is taken too: "so the answer is plan B" decides as much as "we decided".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from services.embeddings.client import Vectors
from services.meeting_intel.sentences import Sentence
from services.meeting_intel.vectors import prototype_margin

DECISIONS = (
    "We decided to go with the second option.",
    "So the decision is that we will use the new server.",
    "Let's go with plan B.",
    "We agreed to postpone the release until next month.",
    "Okay, so we will include it in the shared task.",
    "It's settled then, we drop that feature.",
    "We all agree that the deadline stays in June.",
)
LOOK_ALIKES = (
    "Let's see.",
    "Let's move on to the next point.",
    "Let's start the meeting.",
    "Let's wait for the others.",
    "What do you think we should do?",
    "I'm not sure about that.",
    "Maybe we could try something else.",
    "I agree with you.",
)
MIN_MARGIN = 0.0
# Without the words of deciding, a sentence must be this close to a decision example.
MIN_SIMILARITY_ALONE = 0.8
MIN_WORDS = 4

_DECIDING = re.compile(
    r"\b(?:we(?:'ve| have)?(?: all)? (?:agreed|decided|settled|concluded|chose|opted|voted)"
    r"|(?:we|you|they) (?:all )?agree (?:on|that|to)"
    r"|(?:the|our|final) decision (?:is|was)"
    r"|(?:it's|it is|it was|it has been|that's|that is) (?:decided|agreed|settled)"
    r"|let's (?:go|use|do|take|choose|pick|include|keep|drop|stick|make|put|leave|skip"
    r"|forget|postpone|move|have|plan|fix|change|add|remove|switch|select|agree|decide)\b"
    r"|we(?:'ll| will| are going to|'re going to) (?:go (?:with|for|ahead)|stick with)"
    r"|agreed\b|decided\b)",
    re.IGNORECASE,
)

_CONDITION = re.compile(r"\b(?:if|whether|unless)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    text: str
    sentence: Sentence


def extract(sentences: list[Sentence], vectors: Vectors) -> list[Decision]:
    """Decisions in transcript order, a decision said twice in a row kept once."""
    pool = [s for s in sentences if not s.is_question and s.words >= MIN_WORDS]
    if not pool:
        return []
    matrix = vectors.of(s.clean for s in pool)
    positive, negative = vectors.of(DECISIONS), vectors.of(LOOK_ALIKES)
    margin = prototype_margin(matrix, positive, negative)
    closeness = (matrix @ positive.T).max(axis=1)
    found: list[Decision] = []
    kept: list[np.ndarray] = []
    for sentence, vector, score, close in zip(pool, matrix, margin, closeness, strict=True):
        worded = _DECIDING.search(sentence.clean)
        if worded and _CONDITION.search(sentence.clean[: worded.start()]):
            continue  # "if we agreed to use it, ..." decides nothing
        if not (worded and score > MIN_MARGIN) and (
            close < MIN_SIMILARITY_ALONE or _CONDITION.search(sentence.clean)
        ):
            continue
        if kept and float(kept[-1] @ vector) > 0.9:
            continue
        found.append(Decision(sentence.clean, sentence))
        kept.append(vector)
    return found


def texts_to_embed() -> tuple[str, ...]:
    return DECISIONS + LOOK_ALIKES
