"""Similarity to the meeting modules' example sentences.

The vectors themselves come from `services.embeddings.client.embed_texts`: the transcript's
sentences fresh, the modules' example sentences through its `VectorCache`.
"""

from __future__ import annotations

import numpy as np


def prototype_margin(vectors: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Per row: its best similarity to a positive prototype less its best to a negative one.

    Above zero, a sentence is more like the examples of what is wanted than like the
    examples of what looks the same on the surface but is not ("I'll be honest" is not a
    commitment, "Let's see" is not a decision).
    """
    if not len(vectors):
        return np.empty(0, np.float32)
    return (vectors @ positive.T).max(axis=1) - (vectors @ negative.T).max(axis=1)
