"""Classifier quality on the dev slices: AG News, Banking77 and BBC news.

    python -m eval.classifier [DATA_DIR] [--shots 8] [--seed 0] [--draws 1] [--bbc-per-label 100]

For each set, `--shots` examples per label are drawn first with a fixed seed and never
evaluated; every setting is evaluated on the same remaining rows (BBC: a fixed-seed sample
of `--bbc-per-label` per label). Each served setting is printed beside its naive baseline
from the same run:

- zero-shot naive: the raw model, no project code: each text embedded whole, cosine with
  "This text is about {label}.", softmax at temperature 0.04.
- zero-shot, names / descriptions: the classifier's domain code (`zero_shot.classify_many`,
  one text per call) with label names only, and with the descriptions of
  eval/label_descriptions.py.
- N-shot naive: prototypes, the plain prompt averaged with the examples (the classifier's
  previous few-shot method).
- N-shot, names / descriptions: the classifier with the examples (the fitted head).

Columns: accuracy, macro-F1, log-loss, expected calibration error (10 bins), accuracy gain
over the setting's naive baseline, seconds. The zero-shot temperature and the weights were
fitted on these dev slices, never on the test rows quality is judged on. The encoder is
deterministic, so each text is encoded once; seconds are the scoring time of the setting
(the encoding of the texts is shown once per set).

One draw of a few examples per label is noisy: `--draws N` evaluates seeds `--seed` to
`--seed + N - 1` and closes each set with every setting's mean and spread (standard
deviation) over the draws.
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

from eval.label_descriptions import BY_SET
from services.classifier import head, zero_shot
from services.classifier.zero_shot import LabelSpec
from services.common.settings import PROJECT_ROOT
from services.embeddings.client import VectorCache
from services.embeddings.model import SentenceEncoder
from services.embeddings.settings import EmbeddingsSettings

NAIVE_PROMPT = "This text is about {}."


def read_rows(data_dir: Path, name: str) -> list[tuple[str, str]] | None:
    """(text, label) rows of one dev set, or None when it is not there."""
    paths = {
        "AG News": data_dir / "ag_news_dev" / "dev.jsonl",
        "Banking77": data_dir / "banking77_dev" / "dev.jsonl",
        "BBC news": data_dir / "bbc_news" / "bbc_news.jsonl",
    }
    if not paths[name].is_file():
        return None
    with paths[name].open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    if name == "AG News":
        return [(f"{r['title'].rstrip('.')}. {r['description']}", r["label"]) for r in records]
    return [(r["text"], r["label"]) for r in records]


def split(rows, shots: int, per_label: int, seed: int) -> tuple[dict, list]:
    """`shots` example texts per label, and the evaluated rows (at most `per_label`)."""
    rng = random.Random(seed)
    by_label = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    examples, evaluated = {}, []
    for label in sorted(by_label):
        pool = list(by_label[label])
        rng.shuffle(pool)
        examples[label] = [text for text, _ in pool[:shots]]
        rest = pool[shots:]
        evaluated += rest[:per_label] if per_label else rest
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

    def vectors(self, texts: list[str]) -> np.ndarray:
        self.warm(texts)
        return np.array([self.memo[text][0] for text in texts])

    async def __call__(self, texts: list[str]):
        self.warm(texts)
        rows = [self.memo[text] for text in texts]
        return np.array([v for v, _ in rows]), sum(t for _, t in rows), self.encoder.model_id


async def served(texts, labels, embed) -> np.ndarray:
    """Probabilities from the classifier's domain code, one text per call."""
    names = [label.name for label in labels]
    cache, heads = VectorCache(), zero_shot.HeadCache()
    rows = np.empty((len(texts), len(names)))
    for i, text in enumerate(texts):
        result = (await zero_shot.classify_many([text], labels, embed, cache, heads))[0]
        rows[i] = [dict(result.scores)[name] for name in names]
    return rows


def naive(texts, names, embed: MemoEncoder) -> np.ndarray:
    prompts = embed.vectors([NAIVE_PROMPT.format(name) for name in names])
    return head.softmax(embed.vectors(texts) @ prompts.T / 0.04)


def prototypes(texts, names, examples, embed: MemoEncoder) -> np.ndarray:
    """The previous few-shot method, on whole texts: prompt (weight 2) plus examples."""
    prompts = embed.vectors([NAIVE_PROMPT.format(name) for name in names])
    shots = [(text, i) for i, name in enumerate(names) for text in examples[name]]
    vectors = embed.vectors([text for text, _ in shots])
    owners = np.array([i for _, i in shots])
    return head.softmax(embed.vectors(texts) @ head.prototypes(prompts, vectors, owners).T / 0.04)


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
    f1 = [
        2
        * np.sum((predicted == i) & (truth == i))
        / max(1, np.sum(predicted == i) + np.sum(truth == i))
        for i in range(probabilities.shape[1])
    ]
    truth_probability = probabilities[np.arange(len(truth)), truth]
    return {
        "accuracy": float(correct.mean()),
        "macro-F1": float(np.mean(f1)),
        "log-loss": float(-np.mean(np.log(np.maximum(truth_probability, 1e-12)))),
        "ECE": float(ece),
    }


async def evaluate(name, rows, embed: MemoEncoder, args) -> dict[str, dict[str, float]]:
    per_label = args.bbc_per_label if name == "BBC news" else 0
    examples, evaluated = split(rows, args.shots, per_label, args.seed)
    names = sorted(examples)
    texts = [text for text, _ in evaluated]
    truth = np.array([names.index(label) for _, label in evaluated])
    started = time.perf_counter()
    embed.warm(
        [w for t in texts for w in zero_shot.text_windows(t)]
        + [w for ts in examples.values() for t in ts for w in zero_shot.text_windows(t)]
        + texts
    )
    print(
        f"\n{name}: {len(evaluated)} texts, {len(names)} labels; {args.shots} examples per "
        f"label drawn first (seed {args.seed}), not evaluated; encoded in "
        f"{time.perf_counter() - started:.0f} s"
    )
    described = BY_SET.get(name, {})
    zero = [LabelSpec(n) for n in names]
    zero_described = [LabelSpec(n, described.get(n, "")) for n in names]
    few = [LabelSpec(n, examples=tuple(examples[n])) for n in names]
    few_described = [LabelSpec(n, described.get(n, ""), tuple(examples[n])) for n in names]
    shots = f"{args.shots}-shot"
    settings = {
        "zero-shot naive": lambda: naive(texts, names, embed),
        "zero-shot, names": lambda: served(texts, zero, embed),
        "zero-shot, descriptions": lambda: served(texts, zero_described, embed),
        f"{shots} naive": lambda: prototypes(texts, names, examples, embed),
        f"{shots}, names": lambda: served(texts, few, embed),
        f"{shots}, descriptions": lambda: served(texts, few_described, embed),
    }
    header = ["setting", "accuracy", "macro-F1", "log-loss", "ECE", "vs naive", "seconds"]
    print(" | ".join(f"{h:>24}" if i == 0 else f"{h:>8}" for i, h in enumerate(header)))
    baseline = 0.0
    results = {}
    for setting, run in settings.items():
        started = time.perf_counter()
        probabilities = run()
        if asyncio.iscoroutine(probabilities):
            probabilities = await probabilities
        seconds = time.perf_counter() - started
        figures = metrics(probabilities, truth)
        results[setting] = figures
        if setting.endswith("naive"):
            baseline = figures["accuracy"]
        cells = [f"{v:8.3f}" for v in figures.values()]
        cells.append(f"{figures['accuracy'] - baseline:+8.3f}")
        print(f"{setting:>24} | " + " | ".join([*cells, f"{seconds:8.1f}"]), flush=True)
    return results


def summarise(name: str, draws: list[dict[str, dict[str, float]]]) -> None:
    """Every setting's mean and spread over the draws."""
    print(f"\n{name}: mean ± standard deviation over {len(draws)} draws")
    for setting in draws[0]:
        cells = [
            f"{k} {np.mean(v):.3f} ± {np.std(v):.3f}"
            for k in draws[0][setting]
            for v in [[d[setting][k] for d in draws]]
        ]
        print(f"{setting:>24} | " + " | ".join(cells), flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared" / "data"
    )
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=1, help="seeds from --seed, summarised")
    parser.add_argument("--bbc-per-label", type=int, default=100, help="0: every article")
    parser.add_argument("--only", help="one set: 'AG News', 'Banking77' or 'BBC news'")
    args = parser.parse_args()

    settings = EmbeddingsSettings()
    embed = MemoEncoder(
        SentenceEncoder(
            settings.embeddings_tokenizer_path,
            settings.embeddings_model_path or None,
            settings.embeddings_max_tokens,
            threads=settings.embeddings_threads,
        )
    )
    print(
        f"encoder: {embed.encoder.model_id}; name wordings {zero_shot.TEMPLATES}; "
        f"description weight {zero_shot.DESCRIPTION_WEIGHT}; temperature "
        f"{zero_shot.TEMPERATURE} at 4 labels, x (1 + {zero_shot.LABELS_SLOPE} ln(labels / 4))"
    )
    found = 0
    for name in ("AG News", "Banking77", "BBC news"):
        if args.only and name != args.only:
            continue
        rows = read_rows(args.data_dir, name)
        if rows is None:
            print(f"\n{name}: not found under {args.data_dir}, skipped")
            continue
        found += 1
        draws = []
        for seed in range(args.seed, args.seed + args.draws):
            draws.append(
                await evaluate(
                    name, rows, embed, argparse.Namespace(**{**vars(args), "seed": seed})
                )
            )
        if args.draws > 1:
            summarise(name, draws)
    if not found:
        sys.exit(f"no dev set under {args.data_dir}")


if __name__ == "__main__":
    asyncio.run(main())
