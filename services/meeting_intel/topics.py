"""Topics: stretches of a meeting about one subject, cut where the talk changes subject.

TextTiling (Hearst, 1997) over sentence embeddings. At each gap between sentences, the
mean vector of the `window` sentences before it is compared with that of the `window`
after it. A gap whose similarity is a local minimum is a candidate; its depth is how far
it lies below the peaks on both sides. Those deeper than the candidates' mean depth
become boundaries (Hearst's mean - std/2 cut meetings into too many small pieces),
deepest first, none closer than two windows or MIN_SENTENCES to another, at most
MAX_TOPICS - 1 of them.
Boundaries snap to the start of a segment: a topic is a run of whole turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.meeting_intel.keywords import stretch_keywords
from services.meeting_intel.sentences import Sentence

MAX_TOPICS = 10
MIN_SENTENCES = 8  # in a topic
KEYWORDS = 5
TITLE_KEYWORDS = 3


@dataclass(frozen=True)
class Topic:
    title: str
    keywords: list[str]
    start_segment: int
    end_segment: int


def boundaries(vectors: np.ndarray, max_topics: int = MAX_TOPICS) -> list[int]:
    """Indices of the sentences that open a new topic (never 0), in order."""
    count = len(vectors)
    window = int(np.clip(round(count / 30), 3, 10))
    spacing = max(2 * window, MIN_SENTENCES)
    if count < 2 * spacing:
        return []
    cumulative = np.vstack([np.zeros((1, vectors.shape[1])), np.cumsum(vectors, axis=0)])
    gaps = np.arange(window, count - window + 1)
    left = cumulative[gaps] - cumulative[gaps - window]
    right = cumulative[gaps + window] - cumulative[gaps]
    similarity = np.einsum("ij,ij->i", left, right) / (
        np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1) + 1e-9
    )
    minima = [
        i
        for i in range(1, len(similarity) - 1)
        if similarity[i] < similarity[i - 1] and similarity[i] <= similarity[i + 1]
    ]
    if not minima:
        return []
    depths = np.array([_depth(similarity, i) for i in minima])
    cutoff = depths.mean()
    chosen: list[int] = []
    for i in np.argsort(-depths):
        gap = int(gaps[minima[i]])
        if depths[i] <= max(cutoff, 0.0) or len(chosen) == max_topics - 1:
            break
        if min(gap, count - gap) >= spacing and all(abs(gap - o) >= spacing for o in chosen):
            chosen.append(gap)
    return sorted(chosen)


def stretches(sentences: list[Sentence], vectors: np.ndarray) -> list[tuple[int, int]]:
    """Topic spans over `sentences` as (first, past-last) indices, each opening a segment."""
    if not sentences:
        return []
    starts = [0]
    for index in boundaries(vectors):
        segment = sentences[index].segment
        while index > 0 and sentences[index - 1].segment == segment:
            index -= 1  # the whole turn goes with the new topic
        if sentences[index].segment > sentences[starts[-1]].segment:
            starts.append(index)
    return list(zip(starts, [*starts[1:], len(sentences)], strict=True))


def describe(
    sentences: list[Sentence],
    spans: list[tuple[int, int]],
    last_segment: int,
    exclude: frozenset[str] = frozenset(),
) -> list[Topic]:
    """Keywords, title and segment range of each span; together they cover every segment."""
    texts = [" ".join(s.clean for s in sentences[a:b]) for a, b in spans]
    found = []
    for number, ((a, _), words) in enumerate(
        zip(spans, stretch_keywords(texts, KEYWORDS, exclude), strict=True)
    ):
        start = 0 if number == 0 else sentences[a].segment
        end = (
            sentences[spans[number + 1][0]].segment - 1 if number + 1 < len(spans) else last_segment
        )
        title = ", ".join(words[:TITLE_KEYWORDS])
        found.append(Topic(title[:1].upper() + title[1:], words, start, end))
    return found


def _depth(similarity: np.ndarray, i: int) -> float:
    """How far gap i lies below the highest point reached climbing each way from it."""
    left = i
    while left > 0 and similarity[left - 1] >= similarity[left]:
        left -= 1
    right = i
    while right < len(similarity) - 1 and similarity[right + 1] >= similarity[right]:
        right += 1
    return float(similarity[left] - similarity[i] + similarity[right] - similarity[i])
