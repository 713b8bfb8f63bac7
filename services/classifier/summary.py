"""Extractive summary: the most central sentences of a text, in document order.

A sentence's centrality is its mean cosine similarity to the other sentences: the ones
that say what the rest of the text keeps saying. Fragments (headings, datelines, "Yes.")
are too short to stand alone in a summary and are never picked, though they still count
as context for the others; a sentence repeated in the text is given once.
"""

from __future__ import annotations

import numpy as np

MIN_WORDS = 5
# Sentences this similar say the same thing; a summary gives it once.
DUPLICATE_SIMILARITY = 0.95


def central_sentences(sentences: list[str], vectors: np.ndarray, count: int) -> list[str]:
    """Up to `count` sentences, most central first chosen, returned in document order."""
    if count <= 0 or not sentences:
        return []
    if len(sentences) == 1:
        return list(sentences)
    similarity = vectors @ vectors.T
    centrality = (similarity.sum(axis=1) - similarity.diagonal()) / (len(sentences) - 1)
    eligible = [i for i, s in enumerate(sentences) if len(s.split()) >= MIN_WORDS]
    # A text of fragments only still gets a summary, from its fragments.
    pool = eligible or list(range(len(sentences)))
    best: list[int] = []
    for i in sorted(pool, key=lambda i: centrality[i], reverse=True):
        if all(similarity[i, j] < DUPLICATE_SIMILARITY for j in best):
            best.append(i)
            if len(best) == count:
                break
    return [sentences[i] for i in sorted(best)]
