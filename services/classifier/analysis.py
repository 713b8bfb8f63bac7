"""One Classify request's work: labels, and keywords and a summary when asked.

Everything to embed (the text's windows, its sentences, keyword candidates, label prompts
and examples) goes out together, so a request costs one Embed call (more only past the
service's limit of texts per call), and the scores do not depend on what else was asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.classifier import keywords, zero_shot
from services.classifier.keywords import Keyword
from services.classifier.sentences import split_sentences, windows
from services.classifier.summary import central_sentences
from services.classifier.zero_shot import Classification, LabelSpec
from services.common.errors import InvalidInput
from services.embeddings.client import Embed, VectorCache, embed_texts

DEFAULT_KEYWORDS = 10
DEFAULT_SUMMARY_SENTENCES = 3
MAX_COUNT = 50  # of keywords, and of summary sentences


@dataclass(frozen=True)
class Analysis:
    classification: Classification
    keywords: list[Keyword]
    summary: str
    tokens: int
    model: str


def requested_outputs(request) -> tuple[int, int]:
    """Keywords and summary sentences `request` (ClassifyRequest fields) asks for; 0 if none."""
    return (
        _count(request.include_keywords, request.max_keywords, "max_keywords", DEFAULT_KEYWORDS),
        _count(
            request.include_summary,
            request.summary_sentences,
            "summary_sentences",
            DEFAULT_SUMMARY_SENTENCES,
        ),
    )


def _count(include: bool, count: int, field: str, default: int) -> int:
    if not include:
        return 0
    if not 0 <= count <= MAX_COUNT:
        raise InvalidInput(field, f"must be from 0 (meaning {default}) to {MAX_COUNT}")
    return count or default


async def analyze(
    text: str,
    labels: Sequence[LabelSpec],
    embed: Embed,
    cache: VectorCache | None = None,
    heads: zero_shot.HeadCache | None = None,
    *,
    max_keywords: int = 0,
    summary_sentences: int = 0,
) -> Analysis:
    sentences = split_sentences(text)
    chunks = windows(sentences) or [text]
    phrases = keywords.candidates(text) if max_keywords else []
    summarized = sentences if summary_sentences else []
    vectors = await embed_texts(
        [*chunks, *summarized, *phrases], embed, zero_shot.label_texts(labels), cache
    )
    document = zero_shot.pool(vectors.of(chunks))
    summary = central_sentences(summarized, vectors.of(summarized), summary_sentences)
    return Analysis(
        classification=(await zero_shot.score(labels, document, vectors, heads))[0],
        keywords=keywords.select(phrases, vectors.of(phrases), document, max_keywords),
        summary=" ".join(summary),
        tokens=vectors.tokens,
        model=vectors.model,
    )
