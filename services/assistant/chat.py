"""A chat turn: the message checked, the caller's session found (or a new one named),
passages retrieved from the caller's own documents, the answer written by a backend in
pieces, and the message with its answer stored in the session once the answer is whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from services.assistant import knowledge
from services.assistant.backends import Backend, Reply
from services.assistant.knowledge import Limits, require
from services.assistant.routing import Route, Tiers
from services.assistant.sessions import (
    ASSISTANT,
    USER,
    Cited,
    Session,
    SessionStore,
    Turn,
    new_session_id,
)
from services.assistant.store import Hit, KnowledgeStore
from services.assistant.usage import Budget, BudgetSpent, UsageLedger
from services.common.errors import InvalidInput, NotFound
from services.embeddings.client import Embed

MAX_TITLE_CHARS = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class ChatLimits:
    max_message_chars: int = 4000
    max_session_id_chars: int = 64
    default_top_k: int = 4
    max_top_k: int = 20
    # Earlier turns the model reads with a message.
    history_turns: int = 6
    # Passages less similar than this to the message are not given to the backend.
    min_score: float = 0.2
    max_page_size: int = 200


@dataclass(frozen=True)
class Question:
    """A checked message, its session and the passages to answer it from."""

    owner: str
    session_id: str
    title: str  # the session's name if the message starts it
    message: str
    history: list[Turn]
    passages: list[Hit]
    embed_tokens: int


@dataclass(frozen=True)
class Answer:
    session_id: str
    text: str
    citations: list[Cited]
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    route: Route | None = None  # how the router chose, when it did


def check_session_id(session_id: str, limits: ChatLimits) -> None:
    require(session_id, "session_id", limits.max_session_id_chars)


async def context_version(
    store: KnowledgeStore,
    sessions: SessionStore,
    owner: str,
    session_id: str,
    limits: ChatLimits,
) -> str:
    """What an answer to `owner` reads besides the message, as one version: their
    documents' version and, with a session, its turns so far (turns are only added)."""
    knowledge = await store.version(owner)
    if not session_id:
        return f"k{knowledge}"
    check_session_id(session_id, limits)
    found = await sessions.get(owner, session_id)
    if found is None:
        raise NotFound("no such session")
    return f"k{knowledge}:s{found.turns}:{session_id}"


async def create_session(sessions: SessionStore, owner: str, title: str) -> Session:
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInput("title", f"longer than {MAX_TITLE_CHARS} characters")
    return await sessions.create(owner, title.strip())


async def list_sessions(
    sessions: SessionStore, owner: str, page_size: int, limits: ChatLimits
) -> list[Session]:
    if page_size < 0 or page_size > limits.max_page_size:
        raise InvalidInput(
            "page_size",
            f"must be from 0 (meaning {DEFAULT_PAGE_SIZE}) to {limits.max_page_size}",
        )
    return await sessions.recent(owner, page_size or DEFAULT_PAGE_SIZE)


async def session(
    sessions: SessionStore, reader: str | None, session_id: str, limits: ChatLimits
) -> tuple[Session, list[Turn]]:
    """The session and its history, if `reader` owns it (None: an admin, any)."""
    check_session_id(session_id, limits)
    found = await sessions.get(reader, session_id)
    if found is None:
        raise NotFound("no such session")
    return found, await sessions.history(session_id)


async def delete_session(
    sessions: SessionStore, owner: str, session_id: str, limits: ChatLimits
) -> int:
    check_session_id(session_id, limits)
    deleted = await sessions.delete(owner, session_id)
    if deleted is None:
        raise NotFound("no such session")
    return deleted


async def ask(
    sessions: SessionStore,
    store: KnowledgeStore,
    embed: Embed,
    owner: str,
    session_id: str,
    message: str,
    top_k: int,
    source_ids: Sequence[str],
    limits: ChatLimits,
    knowledge_limits: Limits,
) -> Question:
    """Checks a message and gathers what answering it needs."""
    require(message, "message", limits.max_message_chars)
    if top_k < 0 or top_k > limits.max_top_k:
        raise InvalidInput(
            "top_k", f"must be from 0 (meaning {limits.default_top_k}) to {limits.max_top_k}"
        )
    if session_id:
        check_session_id(session_id, limits)
        if await sessions.get(owner, session_id) is None:
            raise NotFound("no such session")
        history = await sessions.history(session_id, limits.history_turns)
    else:
        session_id, history = new_session_id(), []
    try:
        # Always the caller's own documents, an admin's too: an answer is about "mine".
        found = await knowledge.search(
            store,
            embed,
            owner,
            message,
            top_k or limits.default_top_k,
            source_ids,
            knowledge_limits,
        )
    except InvalidInput as error:
        if all(v.field == "query" for v in error.violations):
            raise InvalidInput("message", error.violations[0].reason) from None
        raise
    passages = [hit for hit in found.hits if hit.score >= limits.min_score]
    title = " ".join(message.split())[:80]
    return Question(owner, session_id, title, message, history, passages, found.tokens)


async def choose(
    answerer: Backend | Tiers,
    question: Question,
    ledger: UsageLedger,
    budget: Budget,
) -> tuple[Backend, Route | None]:
    """The backend that answers `question` and, with tiers, the router's decision. A
    backend that spends model tokens is not chosen once the owner's budget for the day is
    spent: alone, the call is refused (BudgetSpent); with tiers, the cheap one answers."""
    if not isinstance(answerer, Tiers):
        if answerer.metered:
            await ledger.check(budget, question.owner, answerer.model)
        return answerer, None
    route = answerer.decide(question.message, question.passages)
    chosen = answerer.backend(route)
    if chosen.metered:
        try:
            await ledger.check(budget, question.owner, chosen.model)
        except BudgetSpent:
            why = "the daily token budget is spent, so the cheap tier answered"
            return answerer.cheap, route.kept_cheap(why)
    return chosen, route


async def answer(
    answerer: Backend | Tiers,
    sessions: SessionStore,
    question: Question,
    timeout: float | None,
    ledger: UsageLedger,
    budget: Budget,
) -> AsyncIterator[str | Answer]:
    """The answer's pieces as the chosen backend writes them, then the whole `Answer`
    (stored with the message in the session, and its usage counted, first)."""
    backend, route = await choose(answerer, question, ledger, budget)
    reply = Reply()
    parts = []
    async for piece in backend.answer(
        question.message, question.history, question.passages, reply, timeout
    ):
        parts.append(piece)
        yield piece
    text = "".join(parts)
    citations = [cited(hit) for hit in reply.cited]
    stored = await sessions.append(
        question.owner,
        question.session_id,
        question.title,
        [Turn(USER, question.message), Turn(ASSISTANT, text, citations)],
    )
    if stored is None:  # the id was taken by another owner meanwhile: never theirs
        raise NotFound("no such session")
    await ledger.add(
        question.owner,
        backend.model,
        reply.input_tokens,
        reply.output_tokens,
        question.embed_tokens,
        reply.cost_usd,
    )
    yield Answer(
        question.session_id,
        text,
        citations,
        backend.model,
        question.embed_tokens + reply.input_tokens,
        reply.output_tokens,
        reply.cost_usd,
        route,
    )


def cited(hit: Hit) -> Cited:
    return Cited(hit.source_id, hit.chunk_index, hit.score, hit.text, hit.title, hit.start, hit.end)
