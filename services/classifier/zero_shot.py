"""Zero- and few-shot classification by embedding similarity.

A label is represented by its description (or a prompt built from its name) and, when
examples are given, by the mean of its examples' vectors as well: a prototype. A text is
cut into windows the encoder reads whole (long documents would otherwise be judged by
their first 256 tokens), and its vector is the mean of its windows' vectors. The text's
cosine similarity to each label becomes a probability by a tempered softmax, so the
scores of every label sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.classifier.sentences import split_sentences, windows
from services.classifier.vectors import Embed, VectorCache, Vectors, embed_texts
from services.common.errors import InvalidInput

# Cosine similarities of this model sit in a narrow band; dividing by a small temperature
# spreads them into probabilities. 0.04 gave the lowest log-loss (the best-calibrated
# scores) on BBC news, zero-shot and few-shot alike (`python -m eval.classifier`).
TEMPERATURE = 0.04
# In a prototype the prompt counts as this many examples: on BBC news it beat 1 and 4
# with 2 and with 8 examples per label.
PROMPT_WEIGHT = 2.0
# Examples per label: a prototype gains little past a few dozen, and each costs an embedding.
MAX_EXAMPLES = 100


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


def validate_labels(labels: Sequence[LabelSpec], max_labels: int, max_chars: int) -> None:
    if not labels:
        raise InvalidInput("labels", "give at least one label, or a taxonomy")
    if len(labels) > max_labels:
        raise InvalidInput("labels", f"has {len(labels)} labels, more than {max_labels}")
    seen = set()
    for i, label in enumerate(labels):
        name = label.name.strip()
        if not name:
            raise InvalidInput(f"labels[{i}].name", "must not be empty")
        if name.casefold() in seen:
            raise InvalidInput(f"labels[{i}].name", f"duplicate label {name!r}")
        seen.add(name.casefold())
        if len(label.examples) > MAX_EXAMPLES:
            raise InvalidInput(
                f"labels[{i}].examples",
                f"has {len(label.examples)} examples, more than {MAX_EXAMPLES}",
            )
        for j, example in enumerate(label.examples):
            if not example.strip() or len(example) > max_chars:
                raise InvalidInput(f"labels[{i}].examples[{j}]", "must be non-empty text")


def label_prompt(label: LabelSpec) -> str:
    return label.description.strip() or f"This text is about {label.name.strip()}."


def text_windows(text: str) -> list[str]:
    return windows(split_sentences(text)) or [text]


def label_texts(labels: Sequence[LabelSpec]) -> list[str]:
    """What to embed for `labels`: each prompt, and each example's windows."""
    texts = [label_prompt(label) for label in labels]
    for label in labels:
        for example in label.examples:
            texts.extend(text_windows(example))
    return texts


def pool(window_vectors: np.ndarray) -> np.ndarray:
    """One unit vector for a text from its windows' unit vectors."""
    mean = window_vectors.mean(axis=0)
    return mean / np.linalg.norm(mean)


def prototypes(labels: Sequence[LabelSpec], vectors: Vectors) -> np.ndarray:
    """A unit vector per label: its prompt, averaged with its examples when it has any."""
    rows = []
    for label in labels:
        total = PROMPT_WEIGHT * vectors.of([label_prompt(label)])[0]
        for example in label.examples:
            total = total + pool(vectors.of(text_windows(example)))
        rows.append(total / np.linalg.norm(total))
    return np.array(rows)


def softmax(values: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    scaled = (values - values.max()) / temperature
    exp = np.exp(scaled)
    return exp / exp.sum()


def score(labels: Sequence[LabelSpec], document: np.ndarray, vectors: Vectors) -> Classification:
    """`document` is the text's pooled vector; `vectors` hold every label text's vector."""
    probabilities = softmax(prototypes(labels, vectors) @ document)
    ranked = sorted(
        zip((label.name for label in labels), probabilities.tolist(), strict=True),
        key=lambda pair: pair[1],
        reverse=True,
    )
    return Classification(
        label=ranked[0][0],
        score=ranked[0][1],
        scores=ranked,
        tokens=vectors.tokens,
        model=vectors.model,
    )


async def classify(
    text: str, labels: Sequence[LabelSpec], embed: Embed, cache: VectorCache | None = None
) -> Classification:
    chunks = text_windows(text)
    vectors = await embed_texts(chunks, label_texts(labels), embed, cache)
    return score(labels, pool(vectors.of(chunks)), vectors)
