"""BBC news: accuracy, macro-F1 and calibration of the local classifier, zero-shot (label
names only) and few-shot (8 examples per label drawn from the data with a fixed seed).

    python -m eval.classifier [DATA_DIR] [--per-label 100] [--shots 8] [--seed 0] [--truncated]

DATA_DIR is the shared data folder or its bbc_news/ folder (default ../shared/data).
Documents are scored by the classifier's own domain code (`zero_shot.classify`) with the
local encoder in-process. The few-shot examples are drawn first and never evaluated;
the evaluated documents are a fixed-seed sample of the rest, the same for both settings
(`--per-label 0` evaluates all of them). The encoder is deterministic, so every text is
encoded once and its vector reused by both settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from services.classifier import zero_shot
from services.classifier.vectors import VectorCache, embed_texts
from services.classifier.zero_shot import LabelSpec
from services.common.settings import PROJECT_ROOT, get_settings
from services.embeddings.model import SentenceEncoder

TEMPERATURES = (0.02, 0.03, 0.04, 0.05, 0.07)


def read_articles(data_dir: Path) -> list[dict]:
    for path in (data_dir / "bbc_news" / "bbc_news.jsonl", data_dir / "bbc_news.jsonl"):
        if path.is_file():
            with path.open(encoding="utf-8") as lines:
                return [json.loads(line) for line in lines if line.strip()]
    sys.exit(f"no bbc_news.jsonl under {data_dir}")


def split(articles, shots: int, per_label: int, seed: int) -> tuple[dict, list[dict]]:
    """`shots` examples per label, and an evaluation sample of the other articles."""
    rng = random.Random(seed)
    by_label = defaultdict(list)
    for article in articles:
        by_label[article["label"]].append(article)
    examples, evaluated = {}, []
    for label in sorted(by_label):
        pool = list(by_label[label])
        rng.shuffle(pool)
        examples[label] = [a["text"] for a in pool[:shots]]
        evaluated += pool[shots:][:per_label] if per_label else pool[shots:]
    return examples, evaluated


class MemoEncoder:
    """The `embed` callable the classifier expects, over the local encoder, remembering
    every text's vector and tokens."""

    def __init__(self, encoder: SentenceEncoder):
        self.encoder = encoder
        self.memo: dict[str, tuple[np.ndarray, int]] = {}

    def warm(self, texts: list[str]) -> None:
        """Encodes many texts at once: large batches of similar lengths run fastest."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
        encoded = self.encoder.encode(missing)
        for text, vector, tokens in zip(missing, encoded.vectors, encoded.tokens, strict=True):
            self.memo[text] = (vector, tokens)

    async def __call__(self, texts: list[str]):
        self.warm(texts)
        rows = [self.memo[text] for text in texts]
        return np.array([v for v, _ in rows]), sum(t for _, t in rows), self.encoder.model_id


async def predict(articles, labels, embed, whole: bool = False) -> np.ndarray:
    """Probabilities, one row per article, columns in the order of `labels`.

    `whole` scores each article as one text, which the encoder cuts at 256 tokens: the
    classifier as it was before windows, kept as the baseline windows are measured against.
    """
    cache = VectorCache()
    names = [label.name for label in labels]
    rows = []
    for article in articles:
        if whole:
            text = article["text"]
            vectors = await embed_texts([text], zero_shot.label_texts(labels), embed, cache)
            result = zero_shot.score(labels, vectors.of([text])[0], vectors)
        else:
            result = await zero_shot.classify(article["text"], labels, embed, cache)
        scores = dict(result.scores)
        rows.append([scores[name] for name in names])
    return np.array(rows)


def at_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The same scores under another softmax temperature (logits are log p up to a shift)."""
    logits = np.log(np.maximum(probabilities, 1e-30)) * zero_shot.TEMPERATURE / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def f1_per_label(predicted: np.ndarray, truth: np.ndarray, labels: int) -> list[float]:
    return [
        float(2 * np.sum((predicted == i) & (truth == i)))
        / max(1, np.sum(predicted == i) + np.sum(truth == i))
        for i in range(labels)
    ]


def metrics(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1, log-loss and expected calibration error (10 bins)."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    correct = predicted == truth
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(
        abs(confidence[bins == b].mean() - correct[bins == b].mean()) * np.mean(bins == b)
        for b in range(10)
        if np.any(bins == b)
    )
    truth_probability = probabilities[np.arange(len(truth)), truth]
    return {
        "accuracy": float(correct.mean()),
        "macro-F1": float(np.mean(f1_per_label(predicted, truth, probabilities.shape[1]))),
        "log-loss": float(-np.mean(np.log(np.maximum(truth_probability, 1e-12)))),
        "ECE": float(ece),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared" / "data"
    )
    parser.add_argument("--per-label", type=int, default=100, help="0: every article")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--truncated",
        action="store_true",
        help="also score each article by its first 256 tokens only (no windows)",
    )
    args = parser.parse_args()

    articles = read_articles(args.data_dir)
    examples, evaluated = split(articles, args.shots, args.per_label, args.seed)
    names = sorted(examples)
    truth = np.array([names.index(a["label"]) for a in evaluated])
    settings = get_settings()
    embed = MemoEncoder(
        SentenceEncoder(
            settings.embeddings_tokenizer_path,
            settings.embeddings_model_path or None,
            settings.embeddings_max_tokens,
            threads=settings.embeddings_threads,
        )
    )
    started = time.perf_counter()
    embed.warm(
        [w for a in evaluated for w in zero_shot.text_windows(a["text"])]
        + [w for texts in examples.values() for t in texts for w in zero_shot.text_windows(t)]
    )
    encoded_in = time.perf_counter() - started

    label_sets = {
        "zero-shot": [LabelSpec(name) for name in names],
        f"{args.shots}-shot": [LabelSpec(name, examples=tuple(examples[name])) for name in names],
    }
    print(
        f"BBC news: {len(evaluated)} of {len(articles)} articles evaluated "
        f"({args.per_label or 'all'} per label, seed {args.seed}); "
        f"{args.shots} examples per label drawn first and not evaluated"
    )
    print(f"encoder: {embed.encoder.model_id}, {len(embed.memo)} windows in {encoded_in:.0f} s")
    print(f"temperature {zero_shot.TEMPERATURE}, prompt weight {zero_shot.PROMPT_WEIGHT}")
    header = ["setting", "accuracy", "macro-F1", "log-loss", "ECE", *(f"F1 {n}" for n in names)]
    widths = [18, *(max(8, len(h)) for h in header[1:])]
    print(" | ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    sweeps = {}
    runs = [(setting, labels, False) for setting, labels in label_sets.items()]
    if args.truncated:
        runs += [(f"{s}, 256 tok", labels, True) for s, labels in label_sets.items()]
    for setting, labels, whole in runs:
        probabilities = await predict(evaluated, labels, embed, whole)
        figures = metrics(probabilities, truth)
        per_label = f1_per_label(probabilities.argmax(axis=1), truth, len(names))
        cells = [setting, *(f"{v:.3f}" for v in [*figures.values(), *per_label])]
        print(" | ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
        sweeps[setting] = {
            t: metrics(at_temperature(probabilities, t), truth)["log-loss"] for t in TEMPERATURES
        }
    print("log-loss by softmax temperature (accuracy does not depend on it):")
    for setting, losses in sweeps.items():
        print(f"{setting:>18}: " + "  ".join(f"{t}: {v:.3f}" for t, v in losses.items()))


if __name__ == "__main__":
    asyncio.run(main())
