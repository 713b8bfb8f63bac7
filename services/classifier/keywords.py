"""Keywords of a text: candidate phrases ranked by similarity to the whole text.

Candidates are runs of one to three words with no stopword, number or punctuation inside
(noun-phrase-like without a tagger). Each is embedded and scored by cosine similarity to
the document's vector; Maximal Marginal Relevance then picks phrases that are relevant and
unlike those already picked, and a lexical check drops near-duplicates the vectors miss
("profit" after "profits", "Time Warner" after "Time Warner profit").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from services.common.stopwords import WRITTEN as STOPWORDS

MAX_WORDS = 3
# Candidates embedded per document, the most frequent: enough for the terms a text keeps
# using, few enough that keywords cost about as much as the classification itself.
MAX_CANDIDATES = 64
# MMR trade-off: 1 ranks by relevance alone, 0 by novelty alone.
RELEVANCE_WEIGHT = 0.7
# Cosine above which two phrases say the same thing.
DUPLICATE_SIMILARITY = 0.85

# Words, numbers, marks and line breaks; all but words end a phrase.
_TOKEN = re.compile(r"[^\W\d_][\w'\u2019\-]*|\d[\w.,]*|[^\w\s]|\n")
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_SENTENCE_ENDS = frozenset(".!?\n:;")


@dataclass(frozen=True)
class Keyword:
    text: str  # as it first appears in the text
    score: float  # cosine similarity to the document, clipped to 0..1


def candidates(text: str, limit: int = MAX_CANDIDATES) -> list[str]:
    """Distinct candidate phrases, most frequent first (ties: earliest first)."""
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for run in _runs(text):
        for size in range(1, MAX_WORDS + 1):
            for start in range(len(run) - size + 1):
                words = run[start : start + size]
                if _past_tense(words[-1]) and size > 1:
                    continue
                key = " ".join(w.casefold() for w in words)
                counts[key] += 1
                surface.setdefault(key, " ".join(words))
    order = {key: i for i, key in enumerate(surface)}
    ranked = sorted(counts, key=lambda key: (-counts[key], order[key]))
    return [surface[key] for key in ranked[:limit]]


def select(
    phrases: list[str],
    phrase_vectors: np.ndarray,
    document_vector: np.ndarray,
    count: int,
    relevance_weight: float = RELEVANCE_WEIGHT,
) -> list[Keyword]:
    """Up to `count` relevant, mutually different phrases, most relevant first."""
    if not phrases or count <= 0:
        return []
    relevance = phrase_vectors @ document_vector
    similarity = phrase_vectors @ phrase_vectors.T
    chosen: list[int] = []
    remaining = list(np.argsort(-relevance))
    while remaining and len(chosen) < count:
        if chosen:
            redundancy = similarity[np.ix_(remaining, chosen)].max(axis=1)
            marginal = relevance_weight * relevance[remaining] - (1 - relevance_weight) * redundancy
            best = remaining.pop(int(np.argmax(marginal)))
        else:
            best = remaining.pop(0)
        duplicate = any(
            similarity[best, i] > DUPLICATE_SIMILARITY or _overlaps(phrases[best], phrases[i])
            for i in chosen
        )
        if not duplicate:
            chosen.append(best)
    keywords = [Keyword(phrases[i], float(np.clip(relevance[i], 0.0, 1.0))) for i in chosen]
    return sorted(keywords, key=lambda k: k.score, reverse=True)


def _runs(text: str) -> list[list[str]]:
    """Runs of content words that could be one phrase.

    Stopwords, numbers, punctuation and possessives end a run, and so does a change of
    case: "accused Tony Blair" is a verb and a name, "Golden Globe awards" a name and a
    noun. A sentence's first word is capitalised whatever it is, so it joins either.
    """
    runs: list[list[str]] = [[]]
    sentence_start = True
    capitalised = None  # of the current run's words after a sentence's first
    for token in _TOKEN.findall(text):
        word = _POSSESSIVE.sub("", token)
        if token[0].isalpha() and _is_content(word):
            upper = word[0].isupper()
            if runs[-1] and capitalised is not None and upper != capitalised:
                runs.append([])
            if runs[-1] and capitalised is None and not sentence_start:
                capitalised = upper
            elif not runs[-1]:
                capitalised = None if sentence_start else upper
            runs[-1].append(word)
            sentence_start = False
            if word == token:
                continue
        else:
            sentence_start = token in _SENTENCE_ENDS or (sentence_start and not token[0].isalnum())
        if runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _past_tense(word: str) -> bool:
    # "dollar reached", "sale forced": a phrase ending in a verb is a clause, not a topic.
    return word.islower() and len(word) > 4 and word.endswith("ed") and not word.endswith("eed")


def _is_content(word: str) -> bool:
    # Contractions ("don't", "we'll") are function words too.
    return (
        len(word) >= 2
        and word.casefold() not in STOPWORDS
        and not ("'" in word or "\u2019" in word)
    )


def _stems(phrase: str) -> set[str]:
    return {_stem(word) for word in phrase.casefold().split()}


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _overlaps(a: str, b: str) -> bool:
    """The same words up to plural endings and spacing ("TimeWarner", "Time Warner"), one
    phrase inside the other, or half their words shared ("buyer faces loan", "faces loan
    claim")."""
    if re.sub(r"[\s\-]", "", a.casefold()) == re.sub(r"[\s\-]", "", b.casefold()):
        return True
    stems_a, stems_b = _stems(a), _stems(b)
    shared = len(stems_a & stems_b)
    return shared == min(len(stems_a), len(stems_b)) or shared * 2 >= len(stems_a | stems_b)
