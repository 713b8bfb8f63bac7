"""Classification by an OpenAI-compatible chat model, asked for JSON of a fixed schema.

The schema names every label, so the model must score each one; the scores are then
normalised to sum to 1 (models do not reliably do that themselves). A reply that does
not fit the schema is asked for once more, then the request fails (services/common/llm.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.classifier.analysis import Analysis
from services.classifier.keywords import Keyword
from services.classifier.settings import ClassifierSettings
from services.classifier.zero_shot import Classification, LabelSpec
from services.common import llm

if TYPE_CHECKING:
    import openai

SYSTEM = (
    "You classify documents. Score how well the document fits each label, from 0 to 1. "
    "Answer only with JSON matching the schema."
)


def schema(labels: Sequence[LabelSpec], max_keywords: int, summary_sentences: int) -> dict:
    names = [label.name for label in labels]
    properties: dict = {
        "scores": {
            "type": "object",
            # No bounds: grammar-constrained servers do not enforce them, and the scores are
            # normalised below anyway (negatives count as 0).
            "properties": {name: {"type": "number"} for name in names},
            "required": names,
            "additionalProperties": False,
        }
    }
    if max_keywords:
        properties["keywords"] = {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "maxItems": max_keywords,
        }
    if summary_sentences:
        properties["summary"] = {"type": "string"}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def prompt(text: str, labels: Sequence[LabelSpec], max_keywords: int, sentences: int) -> str:
    lines = ["Labels:"]
    for label in labels:
        lines.append(
            f"- {label.name}: {label.description}" if label.description else f"- {label.name}"
        )
        lines.extend(f"  example: {example}" for example in label.examples[:3])
    if max_keywords:
        lines.append(f"Also give up to {max_keywords} keywords, as they appear in the document.")
    if sentences:
        lines.append(
            f"Also give a summary of at most {sentences} sentences taken from the document."
        )
    lines.extend(["", "Document:", text])
    return "\n".join(lines)


async def analyze(
    api: openai.AsyncOpenAI,
    settings: ClassifierSettings,
    text: str,
    labels: Sequence[LabelSpec],
    *,
    max_keywords: int,
    summary_sentences: int,
    timeout: float | None,
) -> tuple[Analysis, llm.Usage]:
    # The model reads a bounded window: the start of a long document carries its type.
    document = text[: settings.openai_max_input_chars]
    data, usage = await llm.chat_json(
        api,
        settings,
        [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt(document, labels, max_keywords, summary_sentences)},
        ],
        schema(labels, max_keywords, summary_sentences),
        "classification",
        timeout,
    )
    raw = [max(float(data["scores"][label.name]), 0.0) for label in labels]
    total = sum(raw)
    probabilities = [s / total for s in raw] if total > 0 else [1 / len(raw)] * len(raw)
    ranked = sorted(
        zip((label.name for label in labels), probabilities, strict=True),
        key=lambda pair: pair[1],
        reverse=True,
    )
    phrases = list(dict.fromkeys(k.strip() for k in data.get("keywords", []) if k.strip()))
    model = settings.openai_chat_model
    return (
        Analysis(
            classification=Classification(
                ranked[0][0], ranked[0][1], ranked, usage.input_tokens, model
            ),
            # The model ranks its keywords but gives no score: the rank stands in for one.
            keywords=[Keyword(k, 1 - i / len(phrases)) for i, k in enumerate(phrases)],
            summary=data.get("summary", "").strip(),
            tokens=usage.input_tokens,
            model=model,
        ),
        usage,
    )
