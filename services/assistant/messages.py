"""Replies of AssistantService, built from what the domain returned."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import timestamp_pb2
from google.rpc import status_pb2

from aiorch.v1 import assistant_pb2, common_pb2
from services.assistant.agents import Agent
from services.assistant.chat import Answer
from services.assistant.knowledge import Found, Indexed
from services.assistant.routing import Route
from services.assistant.sessions import ASSISTANT, USER, Cited, Session, Turn
from services.assistant.usage import Report
from services.common.errors import status_of


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


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def session(found: Session) -> assistant_pb2.Session:
    return assistant_pb2.Session(
        session_id=found.session_id,
        title=found.title,
        turns=found.turns,
        created_at=timestamp(found.created_at),
        updated_at=timestamp(found.updated_at),
    )


def citation(c: Cited) -> assistant_pb2.Citation:
    return assistant_pb2.Citation(
        source_id=c.source_id,
        chunk_index=c.chunk_index,
        score=c.score,
        passage=c.passage,
        title=c.title,
        start=c.start,
        end=c.end,
    )


_ROLES = {USER: assistant_pb2.ROLE_USER, ASSISTANT: assistant_pb2.ROLE_ASSISTANT}


def session_response(found: Session, turns: list[Turn]) -> assistant_pb2.GetSessionResponse:
    return assistant_pb2.GetSessionResponse(
        session=session(found),
        turns=[
            assistant_pb2.Turn(
                role=_ROLES[t.role],
                text=t.text,
                citations=[citation(c) for c in t.citations],
                created_at=timestamp(t.created_at),
            )
            for t in turns
        ],
    )


def chat_response(answer: Answer) -> assistant_pb2.ChatResponse:
    return assistant_pb2.ChatResponse(
        session_id=answer.session_id,
        answer=answer.text,
        citations=[citation(c) for c in answer.citations],
        model=answer.model,
        usage=common_pb2.Usage(
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            cost_usd=answer.cost_usd,
        ),
        route=route(answer.route) if answer.route else None,
        agents=[
            assistant_pb2.AgentAnswer(
                agent=a.name,
                tier=a.tier,
                model=a.model,
                answer=a.text,
                usage=common_pb2.Usage(
                    input_tokens=a.input_tokens,
                    output_tokens=a.output_tokens,
                    cost_usd=a.cost_usd,
                ),
                route=route(a.route) if a.route else None,
            )
            for a in answer.agents
        ],
    )


def agents_response(declared: Iterable[Agent]) -> assistant_pb2.ListAgentsResponse:
    return assistant_pb2.ListAgentsResponse(
        agents=[
            assistant_pb2.Agent(
                name=a.name, description=a.description, tier=a.tier, retrieves=a.retrieves
            )
            for a in declared
        ]
    )


def route(found: Route) -> assistant_pb2.Route:
    return assistant_pb2.Route(
        tier=found.tier,
        escalated=found.escalated,
        reason=found.reason,
        best_score=found.best_score,
        coverage=found.coverage,
        question_words=found.question_words,
    )


def usage_response(found: Report) -> assistant_pb2.GetUsageResponse:
    return assistant_pb2.GetUsageResponse(
        user_id=found.user_id,
        days=[
            assistant_pb2.UsageDay(
                day=d.day,
                model=d.model,
                requests=d.requests,
                input_tokens=d.input_tokens,
                output_tokens=d.output_tokens,
                embedding_tokens=d.embedding_tokens,
                cost_usd=d.cost_usd,
            )
            for d in found.days
        ],
        daily_token_budget=found.daily_token_budget,
        tokens_today=found.tokens_today,
        first_day=found.first_day,
        last_day=found.last_day,
    )


def stream_error(error: BaseException) -> status_pb2.Status:
    """The status a failed stream ends with, as its last message carries it (the runtime's
    error mapping sends the same as the stream's status)."""
    return status_of(error)[0]
