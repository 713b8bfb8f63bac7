"""The cache key of a workflow request: what it asks and what would compute it.

SHA-256 over the type, the normalised input, the sorted outputs, and the version of every
backend and model the type's steps go through, so a new model or a new release of aiorch
never serves a result computed by the old one.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from functools import lru_cache
from importlib import metadata

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.settings import Settings
from services.orchestrator.workflows import WorkflowSpec


@lru_cache
def _release() -> str:
    try:
        return metadata.version("aiorch")
    except metadata.PackageNotFoundError:
        return "unknown"


def backend_versions(settings: Settings) -> dict[str, str]:
    """Service -> what computes its results: backend, model and their settings."""
    embeddings = (
        f"openai:{settings.openai_embeddings_model}"
        if settings.embeddings_backend == "openai"
        else f"local:{settings.embeddings_model_path or 'minilm-int8'}"
        f":{settings.embeddings_max_tokens}"
    )

    def chat_or_local(backend: str) -> str:
        # The local backends of classifier and meeting_intel compute from embeddings.
        if backend == "openai":
            # The chunk size changes what the model is shown, and so its results.
            return f"openai:{settings.openai_chat_model}:{settings.openai_max_input_chars}"
        return f"local+{embeddings}"

    return {
        "embeddings": embeddings,
        "classifier": chat_or_local(settings.classifier_backend),
        "meeting_intel": chat_or_local(settings.meeting_intel_backend),
    }


def cache_key(
    spec: WorkflowSpec,
    given: pb.WorkflowInput,
    outputs: list[str],
    versions: dict[str, str],
) -> str:
    """`<type>:<sha256 hex>`: the type stays readable for invalidation by pattern."""
    normal = pb.WorkflowInput()
    normal.CopyFrom(given)
    normal.text = unicodedata.normalize("NFC", given.text).strip()
    for segment in normal.segments:
        segment.text = unicodedata.normalize("NFC", segment.text).strip()
    involved = {s: versions.get(s, "") for s in spec.services}
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            [spec.name, sorted(outputs), sorted(involved.items()), _release()],
            separators=(",", ":"),
        ).encode()
    )
    digest.update(b"\0")
    digest.update(normal.SerializeToString(deterministic=True))
    return f"{spec.name}:{digest.hexdigest()}"
