"""Zero- and few-shot classification by embedding similarity.

A label is represented by a prompt vector: the mean of a few wordings built from its name
(one wording's accidents average out), plus its description when it has one, weighted
DESCRIPTION_WEIGHT times as much (a description says what the label covers; a bare name
often does not). A text is cut into windows the encoder reads whole (long documents would
otherwise be judged by their first 256 tokens), and its vector is the mean of its windows'
vectors.

- No examples: the text's cosine similarity to each label's prompt vector, made a
  probability by a tempered softmax.
- Examples for every label: a logistic-regression head fitted on the examples' vectors,
  started from and held near the prototypes, plus the zero-shot logits at a weight and
  with a temperature both chosen by cross-validation on the examples (head.py).
- Examples for some labels only: prototypes (prompt averaged with the examples).

The scores of every label sum to 1.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache

from services.classifier import head
from services.classifier.head import softmax
from services.classifier.sentences import split_sentences, windows
from services.embeddings.client import Embed, VectorCache, Vectors, embed_texts

# Cosine similarities of this model sit in a narrow band; dividing by a small temperature
# spreads them into probabilities. With many labels the best cosine is more often a near
# miss (Banking77's 77 intents against AG News's 4 topics), so the temperature grows with
# the log of the number of labels: TEMPERATURE at 4 labels, times 1 + LABELS_SLOPE * ln(K/4).
# Fitted on the dev slices (AG News, Banking77, BBC news; `python -m eval.classifier`),
# zero-shot expected calibration error, mean over five draws, names / descriptions, one
# temperature 0.044 -> this: AG News 0.072 / 0.043 -> 0.071 / 0.041, Banking77 0.089 /
# 0.060 -> 0.050 / 0.045, BBC 0.048 / 0.066 -> 0.046 / 0.060 (accuracy is unchanged: a
# temperature keeps the ranking). No temperature, however it depends on K, got AG News with
# names only under 0.056: its descriptions want 0.039, its bare names 0.057.
TEMPERATURE = 0.042
LABELS_SLOPE = 0.08
# Wordings averaged for every label. The first is the plain prompt; the bare name and two
# rewordings lifted Banking77 dev by 1.3 points and left AG News as it was.
TEMPLATES = ("This text is about {}.", "{}", "This is about {}.", "The topic is {}.")
# The description against the mean of the name's wordings. Dev accuracy, zero-shot, by
# weight 0 / 1 / 3 / description alone: AG News 0.690 / 0.776 / 0.800 / 0.814, Banking77
# 0.604 / 0.692 / 0.718 / 0.711, BBC 0.844 / 0.898 / 0.906 / 0.900.
DESCRIPTION_WEIGHT = 3.0

__all__ = ["softmax"]  # re-exported: the scores' normaliser


def temperature(labels: int) -> float:
    """The zero-shot temperature for a set of `labels` labels."""
    return TEMPERATURE * (1 + LABELS_SLOPE * math.log(labels / 4))


@dataclass(frozen=True)
class LabelSpec:
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    label: str
    score: float
    scores: list[tuple[str, float]]  # every label, best first
    tokens: int
    model: str  # the embedding model behind the scores


class HeadCache:
    """Fitted few-shot heads by label set and model, least recently used out. Fitting
    takes up to seconds for a large label set, so it runs in a thread and concurrent
    requests for the same label set wait for one fit (single-flight).

    The fit is a task of its own, not the first caller's: a caller that goes away (its
    deadline, a restart of its client) leaves the fit running for the others, who would
    otherwise inherit its cancellation and answer CANCELLED to callers that asked for
    nothing of the kind."""

    def __init__(self, maxsize: int = 64):
        self.heads: LRUCache = LRUCache(maxsize)
        self.pending: dict[tuple, asyncio.Future] = {}

    async def get(self, key: tuple, fit: Callable[[], head.Head]) -> head.Head:
        cached: head.Head | None = self.heads.get(key)
        if cached is not None:
            return cached
        fitting = self.pending.get(key)
        if fitting is None:
            fitting = self.pending[key] = asyncio.ensure_future(asyncio.to_thread(fit))
            fitting.add_done_callback(functools.partial(self._fitted, key))
        return await asyncio.shield(fitting)

    def _fitted(self, key: tuple, fitting: asyncio.Future) -> None:
        del self.pending[key]
        if not fitting.cancelled() and fitting.exception() is None:  # retrieved: no warning
            self.heads[key] = fitting.result()


# Where an identifier's words meet: underscores, hyphens, a lower-case letter or digit
# before an upper-case one.
_JOINS = re.compile(r"[_-]+|(?<=[a-z0-9])(?=[A-Z])")


def wording(name: str) -> str:
    """A label name as the words it stands for: callers name labels as identifiers too
    (card_arrival, cardArrival, card-arrival), which the encoder reads as strange tokens.
    Banking77 dev, zero-shot with names only (whole texts, best cosine): 0.616 with its
    names as words; as snake_case, kebab-case and CamelCase 0.596, 0.594 and 0.354 before
    this, 0.616 each now. A name with a space in it is words already, hyphens and all
    ("follow-up call"), and is left as it is."""
    name = name.strip()
    if any(c.isspace() for c in name):
        return name
    return " ".join(_JOINS.sub(" ", name).split()) or name


def name_prompts(label: LabelSpec) -> list[str]:
    return [template.format(wording(label.name)) for template in TEMPLATES]


@functools.lru_cache(maxsize=4096)
def _windows(text: str) -> tuple[str, ...]:
    return tuple(windows(split_sentences(text)) or [text])


def text_windows(text: str) -> list[str]:
    # Memoised: a label set's examples are cut again by every request that sends them.
    return list(_windows(text))


def label_texts(labels: Sequence[LabelSpec]) -> list[str]:
    """What to embed for `labels`: each name's wordings, each description's windows and
    each example's windows."""
    texts = [prompt for label in labels for prompt in name_prompts(label)]
    for label in labels:
        if label.description.strip():
            texts.extend(text_windows(label.description.strip()))
        for example in label.examples:
            texts.extend(text_windows(example))
    return texts


def pool(window_vectors: np.ndarray) -> np.ndarray:
    """One unit vector for a text from its windows' unit vectors."""
    mean = window_vectors.mean(axis=0)
    return mean / np.linalg.norm(mean)


def prompt_vector(label: LabelSpec, vectors: Vectors) -> np.ndarray:
    vector = pool(vectors.of(name_prompts(label)))
    if label.description.strip():
        description = pool(vectors.of(text_windows(label.description.strip())))
        vector = vector + DESCRIPTION_WEIGHT * description
    return vector / np.linalg.norm(vector)


def prompt_vectors(labels: Sequence[LabelSpec], vectors: Vectors) -> np.ndarray:
    return np.array([prompt_vector(label, vectors) for label in labels])


def example_vectors(labels: Sequence[LabelSpec], vectors: Vectors) -> tuple[np.ndarray, np.ndarray]:
    """Every example's vector, and the index of its label."""
    rows = [
        (pool(vectors.of(text_windows(example))), index)
        for index, label in enumerate(labels)
        for example in label.examples
    ]
    if not rows:
        return np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=int)
    return np.array([v for v, _ in rows]), np.array([i for _, i in rows])


async def probabilities(
    labels: Sequence[LabelSpec],
    documents: np.ndarray,
    vectors: Vectors,
    heads: HeadCache | None = None,
) -> np.ndarray:
    """(texts, labels) probabilities for `documents`, one pooled unit vector per row."""
    if (fitted := await prepare(labels, vectors, heads)) is not None:
        return fitted.probabilities(documents)
    prompts = prompt_vectors(labels, vectors)
    examples, owners = example_vectors(labels, vectors)
    if len(owners):
        prototypes = head.prototypes(prompts, examples, owners)
        return softmax(documents @ prototypes.T / temperature(len(labels)))
    return softmax(documents @ prompts.T / temperature(len(labels)))


async def prepare(
    labels: Sequence[LabelSpec], vectors: Vectors, heads: HeadCache | None = None
) -> head.Head | None:
    """The few-shot head of `labels`, fitted once per label set and model (None when not
    every label has examples: a head needs examples of each)."""
    key = (vectors.model, digest(labels))
    if heads is not None and (fitted := heads.heads.get(key)) is not None:
        return fitted
    prompts = prompt_vectors(labels, vectors)
    examples, owners = example_vectors(labels, vectors)
    if not (len(owners) and len(np.unique(owners)) == len(labels) > 1):
        return None

    def fit() -> head.Head:
        return head.fit(prompts, examples, owners, 1 / temperature(len(labels)))

    if heads is None:
        return await asyncio.to_thread(fit)
    return await heads.get(key, fit)


def digest(labels: Sequence[LabelSpec]) -> str:
    """A label set's identity: the same names, descriptions and examples in the same order
    give the same digest on every replica."""
    hashed = hashlib.blake2b(digest_size=16)
    for label in labels:
        for part in (label.name, label.description, *label.examples):
            hashed.update(part.encode())
            hashed.update(b"\0")
        hashed.update(b"\1")
    return hashed.hexdigest()


async def score(
    labels: Sequence[LabelSpec],
    documents: np.ndarray,
    vectors: Vectors,
    heads: HeadCache | None = None,
) -> list[Classification]:
    """A Classification per row of `documents` (texts' pooled vectors); `vectors` hold
    every label text's vector."""
    names = [label.name for label in labels]
    results = []
    for row in await probabilities(labels, np.atleast_2d(documents), vectors, heads):
        ranked = sorted(zip(names, row.tolist(), strict=True), key=lambda p: p[1], reverse=True)
        results.append(
            Classification(ranked[0][0], ranked[0][1], ranked, vectors.tokens, vectors.model)
        )
    return results


async def classify_many(
    texts: Sequence[str],
    labels: Sequence[LabelSpec],
    embed: Embed,
    cache: VectorCache | None = None,
    heads: HeadCache | None = None,
) -> list[Classification]:
    chunks = [text_windows(text) for text in texts]
    vectors = await embed_texts([w for c in chunks for w in c], embed, label_texts(labels), cache)
    documents = np.array([pool(vectors.of(c)) for c in chunks])
    return await score(labels, documents, vectors, heads)


async def classify(
    text: str,
    labels: Sequence[LabelSpec],
    embed: Embed,
    cache: VectorCache | None = None,
    heads: HeadCache | None = None,
) -> Classification:
    return (await classify_many([text], labels, embed, cache, heads))[0]
