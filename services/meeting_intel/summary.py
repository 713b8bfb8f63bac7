"""Extractive summary: the sentences that say what the meeting kept talking about.

Candidates are statements (not questions) of at least MIN_WORDS words. A sentence's
centrality is its mean cosine similarity to the other sentences of its topic, so each
subject is summarised in its own terms rather than only the one that took longest.
Sentences are then picked by Maximal Marginal Relevance: the most central first, each next
one's centrality reduced by its similarity to those already picked, until a word budget
that grows with the meeting. They come back in the order they were said.
"""

from __future__ import annotations

import numpy as np

from services.meeting_intel.sentences import Sentence

MIN_WORDS = 8
# Budget: this share of the meeting's words, within MIN_BUDGET..MAX_BUDGET.
BUDGET_SHARE = 0.04
MIN_BUDGET = 40
MAX_BUDGET = 300
RELEVANCE_WEIGHT = 0.7  # MMR: 1 ranks by centrality alone, 0 by novelty alone


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
    chosen: list[int] = []
    words = 0
    remaining = list(pool)
    while remaining and words < budget:
        if chosen:
            redundancy = (vectors[remaining] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        marginal = RELEVANCE_WEIGHT * scores[remaining] - (1 - RELEVANCE_WEIGHT) * redundancy
        best = remaining.pop(int(np.argmax(marginal)))
        chosen.append(best)
        words += sentences[best].words
    return [sentences[i] for i in sorted(chosen)]
