"""AssistantService: a user's documents indexed and searched; each RPC a validation, a
domain call and a reply, for the verified caller."""

from __future__ import annotations

from functools import partial

import grpc

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from services.assistant import knowledge, messages
from services.assistant.knowledge import Embed, Limits
from services.assistant.store import KnowledgeStore
from services.common import caller
from services.common.deadlines import call_timeout
from services.embeddings.client import EmbeddingsClient


class AssistantServicer(assistant_pb2_grpc.AssistantServiceServicer):
    def __init__(
        self,
        store: KnowledgeStore,
        embeddings: EmbeddingsClient,
        limits: Limits,
        deadline_margin_seconds: float,
    ):
        self.store = store
        self.embeddings = embeddings
        self.limits = limits
        self.margin = deadline_margin_seconds

    def _embed(self, context: grpc.aio.ServicerContext) -> Embed:
        """The embeddings call, within what is left of this call's deadline."""
        return partial(self.embeddings.embed, timeout=call_timeout(context, self.margin))

    async def IndexDocument(
        self, request: assistant_pb2.IndexDocumentRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.IndexDocumentResponse:
        indexed = await knowledge.index_document(
            self.store,
            self._embed(context),
            caller.user_id(),
            request.source_id,
            request.title,
            request.text,
            self.limits,
        )
        return messages.index_response(indexed)

    async def DeleteDocument(
        self, request: assistant_pb2.DeleteDocumentRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.DeleteDocumentResponse:
        deleted = await knowledge.delete_document(
            self.store, caller.user_id(), request.source_id, self.limits
        )
        return assistant_pb2.DeleteDocumentResponse(chunks_deleted=deleted)

    async def Search(
        self, request: assistant_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.SearchResponse:
        found = await knowledge.search(
            self.store,
            self._embed(context),
            caller.reader(),
            request.query,
            request.top_k,
            list(request.source_ids),
            self.limits,
        )
        return messages.search_response(found)
