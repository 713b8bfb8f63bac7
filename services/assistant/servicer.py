"""AssistantService: a user's documents indexed and searched, and chat sessions over
them; each RPC a validation, a domain call and a reply, for the verified caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import grpc

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from services.assistant import agents, chat, knowledge, messages, usage
from services.assistant.backends import ExtractiveBackend
from services.assistant.chat import Answer, ChatLimits
from services.assistant.knowledge import Embed, Limits
from services.assistant.routing import Tiers
from services.assistant.sessions import SessionStore
from services.assistant.store import KnowledgeStore
from services.assistant.usage import Budget, UsageLedger
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
        sessions: SessionStore,
        backend: ExtractiveBackend | Tiers,
        ledger: UsageLedger,
        budget: Budget,
        chat_limits: ChatLimits | None = None,
    ):
        self.store = store
        self.embeddings = embeddings
        self.limits = limits
        self.margin = deadline_margin_seconds
        self.sessions = sessions
        self.backend = backend
        self.ledger = ledger
        self.budget = budget
        self.chat_limits = chat_limits or ChatLimits()

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

    async def CreateSession(
        self, request: assistant_pb2.CreateSessionRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.CreateSessionResponse:
        created = await chat.create_session(self.sessions, caller.user_id(), request.title)
        return assistant_pb2.CreateSessionResponse(session=messages.session(created))

    async def ListSessions(
        self, request: assistant_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.ListSessionsResponse:
        found = await chat.list_sessions(
            self.sessions, caller.user_id(), request.page_size, self.chat_limits
        )
        return assistant_pb2.ListSessionsResponse(sessions=[messages.session(s) for s in found])

    async def GetSession(
        self, request: assistant_pb2.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.GetSessionResponse:
        found, turns = await chat.session(
            self.sessions, caller.reader(), request.session_id, self.chat_limits
        )
        return messages.session_response(found, turns)

    async def DeleteSession(
        self, request: assistant_pb2.DeleteSessionRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.DeleteSessionResponse:
        deleted = await chat.delete_session(
            self.sessions, caller.user_id(), request.session_id, self.chat_limits
        )
        return assistant_pb2.DeleteSessionResponse(turns_deleted=deleted)

    async def GetUsage(
        self, request: assistant_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.GetUsageResponse:
        found = await usage.report(
            self.ledger,
            self.budget,
            caller.user_id(),
            caller.is_admin(),
            request.user_id,
            request.days,
            request.model,
        )
        return messages.usage_response(found)

    async def GetContextVersion(
        self, request: assistant_pb2.GetContextVersionRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.GetContextVersionResponse:
        version = await chat.context_version(
            self.store, self.sessions, caller.user_id(), request.session_id, self.chat_limits
        )
        return assistant_pb2.GetContextVersionResponse(version=version)

    async def ListAgents(
        self, request: assistant_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.ListAgentsResponse:
        caller.user_id()  # only for a verified caller, as every RPC of this service
        return messages.agents_response(agents.AGENTS.values())

    async def Chat(
        self, request: assistant_pb2.ChatRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.ChatResponse:
        async for item in self._answer(request, context):
            if isinstance(item, Answer):
                return messages.chat_response(item)
        raise AssertionError("an answer always ends with the whole Answer")

    async def StreamChat(
        self, request: assistant_pb2.StreamChatRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[assistant_pb2.StreamChatResponse]:
        started = False
        try:
            async for item in self._answer(request, context):
                if isinstance(item, Answer):
                    yield assistant_pb2.StreamChatResponse(answer=messages.chat_response(item))
                else:
                    started = True
                    yield assistant_pb2.StreamChatResponse(delta=item)
        except Exception as error:
            # A JSON client reading lines may never see the trailers that carry the final
            # status: the error goes in the stream as well, as its last line.
            if started:
                yield assistant_pb2.StreamChatResponse(error=messages.stream_error(error))
            raise

    async def _answer(
        self,
        request: assistant_pb2.ChatRequest | assistant_pb2.StreamChatRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[str | Answer]:
        named = agents.named(list(request.agents))
        question = await chat.ask(
            self.sessions,
            self.store,
            self._embed(context),
            caller.user_id(),
            request.session_id,
            request.message,
            request.top_k,
            list(request.source_ids),
            self.chat_limits,
            self.limits,
        )
        timeout = call_timeout(context, self.margin)
        answers = chat.answer(
            self.backend, self.sessions, question, timeout, self.ledger, self.budget, named
        )
        async for item in answers:
            yield item
