"""Replies of AssistantService, built from what the domain returned."""

from __future__ import annotations

from aiorch.v1 import assistant_pb2, common_pb2
from services.assistant.knowledge import Found, Indexed


def usage(tokens: int) -> common_pb2.Usage:
    # The local model costs nothing; a priced embeddings model's cost is the embeddings
    # service's to report, per call.
    return common_pb2.Usage(input_tokens=tokens)


def index_response(indexed: Indexed) -> assistant_pb2.IndexDocumentResponse:
    return assistant_pb2.IndexDocumentResponse(
        source_id=indexed.source_id,
        chunks=[
            assistant_pb2.Chunk(index=c.index, start=c.start, end=c.end) for c in indexed.chunks
        ],
        model=indexed.model,
        usage=usage(indexed.tokens),
    )


def search_response(found: Found) -> assistant_pb2.SearchResponse:
    return assistant_pb2.SearchResponse(
        passages=[
            assistant_pb2.Passage(
                score=h.score,
                source_id=h.source_id,
                title=h.title,
                chunk_index=h.chunk_index,
                start=h.start,
                end=h.end,
                text=h.text,
                owner=h.owner,
            )
            for h in found.hits
        ],
        model=found.model,
        usage=usage(found.tokens),
    )
