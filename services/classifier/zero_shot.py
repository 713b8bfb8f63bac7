"""Zero- and few-shot classification by embedding similarity.

A label is represented by its description (or a prompt built from its name) and, when
examples are given, by the mean of its examples' vectors as well: a prototype. The text's
cosine similarity to each label becomes a probability by a tempered softmax, so the
scores of every label sum to 1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from services.common.errors import InvalidInput

# Cosine similarities of this model sit in a narrow band; dividing by a small temperature
# spreads them into usable probabilities.
TEMPERATURE = 0.05

# texts -> (unit vectors, tokens read, model id)
Embed = Callable[[list[str]], Awaitable[tuple[np.ndarray, int, str]]]


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
        for j, example in enumerate(label.examples):
            if not example.strip() or len(example) > max_chars:
                raise InvalidInput(f"labels[{i}].examples[{j}]", "must be non-empty text")


def label_prompt(label: LabelSpec) -> str:
    return label.description.strip() or f"This text is about {label.name.strip()}."


def softmax(values: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    scaled = (values - values.max()) / temperature
    exp = np.exp(scaled)
    return exp / exp.sum()


async def classify(text: str, labels: Sequence[LabelSpec], embed: Embed) -> Classification:
    examples = [example for label in labels for example in label.examples]
    vectors, tokens, model = await embed([text, *map(label_prompt, labels), *examples])
    document, prompts, example_vectors = (
        vectors[0],
        vectors[1 : 1 + len(labels)],
        vectors[1 + len(labels) :],
    )
    prototypes = []
    offset = 0
    for label, prompt in zip(labels, prompts, strict=True):
        members = example_vectors[offset : offset + len(label.examples)]
        offset += len(label.examples)
        prototype = np.vstack([prompt, members]).mean(axis=0) if len(members) else prompt
        prototypes.append(prototype / np.linalg.norm(prototype))
    probabilities = softmax(np.array(prototypes) @ document)
    ranked = sorted(
        zip((label.name for label in labels), probabilities.tolist(), strict=True),
        key=lambda pair: pair[1],
        reverse=True,
    )
    return Classification(
        label=ranked[0][0], score=ranked[0][1], scores=ranked, tokens=tokens, model=model
    )
