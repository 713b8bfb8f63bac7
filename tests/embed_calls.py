"""An `Embed` (services/embeddings/client.py) over the real local encoder that records
the texts of every call: what domain tests embed with, without an embeddings server."""

from __future__ import annotations


class CountingEmbed:
    def __init__(self, encoder, model_id=None):
        self.encoder = encoder
        self.named = model_id  # None: the encoder's own
        self.calls: list[list[str]] = []

    @property
    def model_id(self) -> str:
        return self.named or self.encoder.model_id

    async def __call__(self, texts):
        self.calls.append(list(texts))
        encoded = self.encoder.encode(list(texts))
        return encoded.vectors, sum(encoded.tokens), self.model_id
