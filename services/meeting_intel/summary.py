"""Extractive summary: the sentences that say what the meeting kept talking about.

Candidates are statements (not questions) of at least MIN_WORDS words. A sentence's
centrality is its mean cosine similarity to the other sentences of its topic, so each
subject is summarised in its own terms rather than only the one that took longest.
Sentences are then picked by Maximal Marginal Relevance: the most central first, each next
one's centrality reduced by its similarity to those already picked, while they fit in a
word budget: the caller's (`Length`: words, or a share of the meeting's words) or one that
grows with the meeting. Only whole sentences are quoted, in their clean form (no fillers,
stutters or markup), so a summary may fall short of its budget by less than a sentence;
when no sentence fits, it is the shortest one. They come back in the order they were said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from services.common.contract_checks import MAX_SUMMARY_WORDS, check_summary_length
from services.meeting_intel.sentences import Sentence
from services.meeting_intel.sentences import words as count_words

MIN_WORDS = 8
# Words that tie a sentence to what was said just before it ("And the bulb ...", "So we
# ..."): out of that context, in a summary, they say nothing.
_CONNECTIVES = re.compile(
    r"^(?:(?:and|but|so|then|also|now|well|anyway|because|or|plus)\b[,\s]*)+", re.IGNORECASE
)
# Budget: this share of the meeting's words, within MIN_BUDGET..MAX_BUDGET.
BUDGET_SHARE = 0.04
MIN_BUDGET = 40
MAX_BUDGET = 300
MAX_WORDS = MAX_SUMMARY_WORDS  # the longest summary a caller may ask for
RELEVANCE_WEIGHT = 0.7  # MMR: 1 ranks by centrality alone, 0 by novelty alone


@dataclass(frozen=True)
class Length:
    """How long a summary should be: `words`, or `ratio` of the meeting's words, or (both
    unset) the default budget."""

    words: int | None = None
    ratio: float | None = None

    def __post_init__(self) -> None:
        check_summary_length(self.words, self.ratio)

    @property
    def chosen(self) -> bool:
        """Whether the caller chose a length (else the service's default applies)."""
        return self.words is not None or self.ratio is not None

    def budget(self, meeting_words: int) -> int:
        """The summary's word budget for a meeting of `meeting_words` words."""
        if self.words is not None:
            return self.words
        if self.ratio is not None:
            return max(1, round(meeting_words * self.ratio))
        return word_budget(meeting_words)


def word_budget(meeting_words: int) -> int:
    return int(np.clip(round(meeting_words * BUDGET_SHARE), MIN_BUDGET, MAX_BUDGET))


def centrality(vectors: np.ndarray, groups: list[int]) -> np.ndarray:
    """Mean similarity of each row to the other rows of its group (its topic)."""
    scores = np.zeros(len(vectors), dtype=np.float32)
    labels = np.asarray(groups)
    for group in np.unique(labels):
        members = np.flatnonzero(labels == group)
        if len(members) == 1:
            continue
        block = vectors[members] @ vectors[members].T
        scores[members] = (block.sum(axis=1) - block.diagonal()) / (len(members) - 1)
    return scores


def summarize(
    sentences: list[Sentence], vectors: np.ndarray, groups: list[int], budget: int
) -> list[Sentence]:
    """The summary's sentences in transcript order; `groups` gives each one's topic."""
    if not sentences:
        return []
    scores = centrality(vectors, groups)
    pool = [i for i, s in enumerate(sentences) if s.words >= MIN_WORDS and not s.is_question]
    if not pool:  # a meeting of short remarks still gets a summary, from its longest one
        pool = [max(range(len(sentences)), key=lambda i: sentences[i].words)]
    # The budget counts the words as quoted.
    size = {i: count_words(quote(sentences[i])) for i in pool}
    chosen: list[int] = []
    words = 0
    # A budget shorter than every sentence still gets one: the shortest.
    remaining = [i for i in pool if size[i] <= budget] or [min(pool, key=size.__getitem__)]
    while remaining:
        if chosen:
            redundancy = (vectors[remaining] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        marginal = RELEVANCE_WEIGHT * scores[remaining] - (1 - RELEVANCE_WEIGHT) * redundancy
        best = remaining.pop(int(np.argmax(marginal)))
        chosen.append(best)
        words += size[best]
        # Whole sentences only: what no longer fits is passed over for shorter ones.
        remaining = [i for i in remaining if words + size[i] <= budget]
    return [sentences[i] for i in sorted(chosen)]


def quote(sentence: Sentence) -> str:
    """A sentence as a summary quotes it: its clean form, less a leading connective."""
    text = _CONNECTIVES.sub("", sentence.clean)
    if not text.strip(" .?!"):
        return sentence.clean
    return text[:1].upper() + text[1:]
