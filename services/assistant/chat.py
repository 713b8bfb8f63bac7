"""A chat turn: the message checked, the caller's session found (or a new one named),
passages retrieved from the caller's own documents, the answer written by a backend in
pieces, and the message with its answer stored in the session once the answer is whole.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial

from services.assistant import knowledge
from services.assistant.agents import CHEAP, ROUTED, STRONG, Agent, NoChatModel
from services.assistant.backends import Backend, ExtractiveBackend, Reply, pieces
from services.assistant.knowledge import Limits
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
from services.common.contract_checks import MAX_MESSAGE_CHARS, MAX_SESSION_ID_CHARS
from services.common.errors import InvalidInput, NotFound
from services.common.validation import require_text
from services.embeddings.client import Embed

MAX_TITLE_CHARS = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class ChatLimits:
    max_message_chars: int = MAX_MESSAGE_CHARS
    max_session_id_chars: int = MAX_SESSION_ID_CHARS
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
    agents: list[AgentAnswer] = field(default_factory=list)  # when the request named any


@dataclass(frozen=True)
class AgentAnswer:
    """One agent's part of a merged answer (its citations renumbered as in the whole)."""

    name: str
    tier: str  # the tier that answered: CHEAP or STRONG
    model: str
    text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    route: Route | None


def check_session_id(session_id: str, limits: ChatLimits) -> None:
    require_text(session_id, "session_id", limits.max_session_id_chars)


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
    require_text(message, "message", limits.max_message_chars)
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
    answerer: ExtractiveBackend | Tiers,
    question: Question,
    ledger: UsageLedger,
    budget: Budget,
) -> tuple[Backend, Route | None]:
    """The backend that answers `question` and, with tiers, the router's decision. A
    backend that spends model tokens is not chosen once the owner's budget for the day is
    spent: alone, the call is refused (BudgetSpent); with tiers, the cheap one answers."""
    if not isinstance(answerer, Tiers):  # the local backend: no model, no budget
        return answerer, None
    if not answerer.routes:  # the chat model answers every chat
        await ledger.check(budget, question.owner, answerer.strong.model)
        return answerer.strong, None
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
    answerer: ExtractiveBackend | Tiers,
    sessions: SessionStore,
    question: Question,
    timeout: float | None,
    ledger: UsageLedger,
    budget: Budget,
    agents: Sequence[Agent] = (),
) -> AsyncIterator[str | Answer]:
    """The answer's pieces as the chosen backend writes them, then the whole `Answer`
    (stored with the message in the session, and its usage counted, first). With
    `agents`, each answers at once and their answers are merged."""
    if agents:
        async for item in _answer_by_agents(
            answerer, sessions, question, timeout, ledger, budget, agents
        ):
            yield item
        return
    backend, route = await choose(answerer, question, ledger, budget)
    reply = Reply()
    parts = []
    answering = backend.answer(
        question.message, question.history, question.passages, reply, timeout
    )
    try:
        async for piece in answering:
            parts.append(piece)
            yield piece
    except BaseException:  # the caller went away, the deadline passed, the model failed
        await asyncio.shield(_cut_short(answering, ledger, question.owner, backend, reply))
        raise
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


async def _cut_short(answering, ledger: UsageLedger, owner: str, backend, reply: Reply) -> None:
    """An answer that ended early still spent what the model read and wrote: the budget
    counts it (else cancelling near the end of each answer would spend without limit),
    from the model's own figures or the backend's estimate."""
    await answering.aclose()  # the backend's own accounting runs as it closes
    if backend.metered and (reply.input_tokens or reply.output_tokens):
        await ledger.add(
            owner, backend.model, reply.input_tokens, reply.output_tokens, 0, reply.cost_usd
        )


def _tiers(answerer: ExtractiveBackend | Tiers) -> tuple[ExtractiveBackend, Backend | None]:
    """The cheap and the strong backend of what answers (None: no chat model)."""
    if isinstance(answerer, Tiers):
        return answerer.cheap, answerer.strong
    return answerer, None


async def _choose_for(
    agent: Agent,
    answerer: ExtractiveBackend | Tiers,
    question: Question,
    ledger: UsageLedger,
    budget: Budget,
) -> tuple[Backend, Route | None]:
    cheap, strong = _tiers(answerer)
    if agent.tier == CHEAP:
        return cheap, None
    if strong is None:
        raise NoChatModel(
            f"agent {agent.name!r} needs the chat model, and this assistant runs without one"
            " (AIORCH_ASSISTANT_BACKEND=local)"
        )
    if agent.tier == STRONG:
        await ledger.check(budget, question.owner, strong.model)
        return strong, None
    assert agent.tier == ROUTED
    assert isinstance(answerer, Tiers)  # a chat model (strong) comes with both tiers
    return await choose(answerer.routed(), question, ledger, budget)


async def _run(agent: Agent, backend: Backend, question: Question, timeout: float | None):
    reply = Reply()
    passages = question.passages if agent.retrieves else []
    parts = [
        piece
        async for piece in backend.answer(
            question.message,
            question.history,
            passages,
            reply,
            timeout,
            agent.instructions,
            agent.retrieves,
        )
    ]
    return "".join(parts), reply


_CITATION = re.compile(r"\[(\d+)\]")


def merge(parts: Sequence[tuple[str, Reply]]) -> tuple[list[str], list[Hit]]:
    """Each part's text with its [n] renumbered into one list of the passages cited by
    any part (each passage once, in the order first cited), and that list."""
    cited: list[Hit] = []
    number: dict[tuple[str, str, int], int] = {}
    texts = []
    for text, reply in parts:
        renumber = {}
        for i, hit in enumerate(reply.cited, 1):
            key = (hit.owner, hit.source_id, hit.chunk_index)
            if key not in number:
                cited.append(hit)
                number[key] = len(cited)
            renumber[i] = number[key]
        texts.append(_CITATION.sub(partial(_renumbered, renumber), text))
    return texts, cited


def _renumbered(renumber: dict[int, int], match: re.Match[str]) -> str:
    n = int(match[1])
    return f"[{renumber[n]}]" if n in renumber else match[0]  # [n] of no passage: as it is


async def _answer_by_agents(
    answerer: ExtractiveBackend | Tiers,
    sessions: SessionStore,
    question: Question,
    timeout: float | None,
    ledger: UsageLedger,
    budget: Budget,
    agents: Sequence[Agent],
) -> AsyncIterator[str | Answer]:
    """The agents' answers, run at once, merged: each under its name when there are
    several. Every budget is checked before any model is called. One agent's answer is
    sent as it is written; several agents' merged answer once every one has finished."""
    chosen = [await _choose_for(a, answerer, question, ledger, budget) for a in agents]
    if len(agents) == 1:
        (agent,), ((backend, _),) = agents, chosen
        reply = Reply()
        written = []
        async for piece in backend.answer(
            question.message,
            question.history,
            question.passages if agent.retrieves else [],
            reply,
            timeout,
            agent.instructions,
            agent.retrieves,
        ):
            written.append(piece)
            yield piece
        results = [("".join(written), reply)]
    else:
        runs = [
            asyncio.ensure_future(_run(agent, backend, question, timeout))
            for agent, (backend, _) in zip(agents, chosen, strict=True)
        ]
        try:
            results = await asyncio.gather(*runs)
        finally:
            for run in runs:  # one failed: the others stop (a done one is left as it is)
                run.cancel()
    texts, cited_hits = merge(results)
    parts = []
    for agent, (backend, route), text, (_, reply) in zip(
        agents, chosen, texts, results, strict=True
    ):
        tier = STRONG if backend.metered else CHEAP
        parts.append(
            AgentAnswer(
                agent.name,
                tier,
                backend.model,
                text,
                reply.input_tokens,
                reply.output_tokens,
                reply.cost_usd,
                route,
            )
        )
    if len(parts) == 1:
        whole = parts[0].text  # sent already
    else:
        whole = "\n\n".join(f"{p.name}:\n{p.text.strip()}" for p in parts)
        for piece in pieces(whole):
            yield piece
    citations = [cited(hit) for hit in cited_hits]
    stored = await sessions.append(
        question.owner,
        question.session_id,
        question.title,
        [Turn(USER, question.message), Turn(ASSISTANT, whole, citations)],
    )
    if stored is None:
        raise NotFound("no such session")
    for i, part in enumerate(parts):
        # The message was embedded once: its tokens go with the first agent's row.
        embedded = question.embed_tokens if i == 0 else 0
        await ledger.add(
            question.owner,
            part.model,
            part.input_tokens,
            part.output_tokens,
            embedded,
            part.cost_usd,
        )
    yield Answer(
        question.session_id,
        whole,
        citations,
        ",".join(dict.fromkeys(p.model for p in parts)),
        question.embed_tokens + sum(p.input_tokens for p in parts),
        sum(p.output_tokens for p in parts),
        sum(p.cost_usd for p in parts),
        None,
        parts,
    )


def cited(hit: Hit) -> Cited:
    return Cited(hit.source_id, hit.chunk_index, hit.score, hit.text, hit.title, hit.start, hit.end)
