"""Keywords of each stretch of a meeting by class-based TF-IDF (as BERTopic weighs topics).

A term's weight in a stretch is its share of the stretch's terms times log(1 + A / f),
where f is its count in the whole meeting and A the average number of terms per stretch:
words every stretch repeats ("data", "people") weigh little, words one stretch keeps
using weigh most. Terms are content words and two-word phrases of them. Talk is full of
words that carry no subject ("think", "okay", "thing"), so the stopwords are those of
written English plus those of speech (services/common/stopwords.py); the speakers' names
are left out too: people are not topics.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from services.common.stopwords import SPOKEN as STOPWORDS

_TOKEN = re.compile(r"\[[A-Z]+\d*\]|[A-Za-z][A-Za-z'\-]*[A-Za-z]|\n")
MIN_COUNT = 2  # a term said once in a stretch does not characterise it


def terms(text: str, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Content words and two-word phrases of consecutive content words, lower case."""
    found: list[str] = []
    previous = None
    for token in _TOKEN.findall(text):
        # Acronyms ("ASR") and placeholders ("[PROJECT1]") keep their case.
        word = token if token.isupper() else token.lower().removesuffix("'s")
        if (
            word.lower() in STOPWORDS
            or word.lower() in exclude
            or word.startswith("[PERSON")
            or "'" in word
            or len(word) < 3
        ):
            previous = None
            continue
        found.append(word)
        if previous:
            found.append(f"{previous} {word}")
        previous = word
    return found


def stretch_keywords(
    stretches: list[str], count: int = 5, exclude: frozenset[str] = frozenset()
) -> list[list[str]]:
    """Up to `count` keywords per stretch of text, best first, no two sharing a word (or
    its plural)."""
    counts = [Counter(terms(text, exclude)) for text in stretches]
    overall = sum(counts, Counter())
    average = sum(sum(c.values()) for c in counts) / max(len(counts), 1)
    result = []
    for stretch in counts:
        size = sum(stretch.values()) or 1
        floor = MIN_COUNT if size >= 50 else 1  # a short meeting has few repeats
        weights = {
            term: (n / size) * math.log(1 + average / overall[term])
            for term, n in stretch.items()
            if n >= floor
        }
        chosen: list[str] = []
        used: set[str] = set()
        for term in sorted(weights, key=lambda t: (-weights[t], t)):
            words = {_stem(word) for word in term.split()}
            if words & used:
                continue
            chosen.append(term)
            used |= words
            if len(chosen) == count:
                break
        result.append(chosen)
    return result


def _stem(word: str) -> str:
    """A plural's singular, near enough to tell "date" and "dates" apart from "data"."""
    word = word.lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word
