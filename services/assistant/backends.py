"""What writes a chat answer from the retrieved passages: an extractive one that needs no
model (the default, so the suite answers offline) and an OpenAI-compatible chat model,
streamed.

A backend yields the answer's text in pieces and fills a `Reply` with what it used; the
passages it is given are numbered from 1 in the order given, and `[n]` in an answer
cites the n-th.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from services.assistant.sessions import USER, Turn
from services.assistant.settings import AssistantSettings
from services.assistant.store import Hit
from services.common import llm, metrics
from services.common.deadlines import Deadline
from services.common.errors import DeadlineExceeded, DomainError, Unavailable

log = logging.getLogger("aiorch.assistant")
NOTHING_FOUND = "Nothing in your documents answers this."
_PIECES = re.compile(r"\s*\S+(?:\s+\S+){0,3}")  # up to four words per piece


@dataclass
class Reply:
    """What a backend used and spent for one answer."""

    cited: list[Hit] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Backend(Protocol):
    model: str  # "local/extractive" or "openai/<model>"
    # Whether its answers spend model tokens, which the daily budgets limit.
    metered: bool

    def answer(
        self,
        question: str,
        history: Sequence[Turn],
        passages: Sequence[Hit],
        reply: Reply,
        timeout: float | None,
        instructions: str = "",
        grounded: bool = True,
    ) -> AsyncIterator[str]:
        """`instructions` add to the model's own (an agent's); `grounded` False answers
        from the conversation alone, with no passages."""
        ...

    async def close(self) -> None: ...


def pieces(text: str) -> list[str]:
    """`text` in pieces of a few words that join back to it."""
    found = _PIECES.findall(text)
    rest = text[sum(map(len, found)) :]
    if rest:
        found.append(rest)
    return found


class ExtractiveBackend:
    """The best passages themselves, each cited: no model, no cost."""

    model = "local/extractive"
    metered = False

    def __init__(self, max_passages: int = 3, spread: float = 0.15):
        self.max_passages = max_passages
        # Passages scoring this far below the best one add noise rather than an answer.
        self.spread = spread

    def quoted(self, passages: Sequence[Hit]) -> list[Hit]:
        """The passages its answer quotes, of `passages` (best first)."""
        if not passages:
            return []
        best = passages[0].score
        return [p for p in passages if p.score >= best - self.spread][: self.max_passages]

    async def answer(
        self, question, history, passages, reply, timeout, instructions="", grounded=True
    ):
        # Quotes read no instructions: no model runs.
        reply.cited = self.quoted(passages)
        text = "\n\n".join(f"{p.text.strip()} [{i}]" for i, p in enumerate(reply.cited, 1))
        for piece in pieces(text or NOTHING_FOUND):
            yield piece
            await asyncio.sleep(0)  # a closed stream stops here

    async def close(self) -> None:
        pass


SYSTEM = (
    "You answer the user's questions using only the numbered passages from their own "
    "documents. Cite the passages you use as [1], [2] and so on. If the passages do not "
    "answer the question, say that the documents do not answer it."
)


UNGROUNDED = "You help the user with their request, from the conversation alone."


def prompt(
    question: str,
    history: Sequence[Turn],
    passages: Sequence[Hit],
    max_chars: int,
    instructions: str = "",
    grounded: bool = True,
) -> list[dict]:
    """The chat messages: instructions, the earlier turns, then the passages (when
    `grounded`) and the question, the whole bounded by `max_chars` (the oldest turns go
    first)."""
    system = SYSTEM if grounded else UNGROUNDED
    if instructions:
        system = f"{system}\n\n{instructions}"
    if grounded:
        listed = "\n\n".join(
            f"[{i}] {p.title + ': ' if p.title else ''}{p.text}" for i, p in enumerate(passages, 1)
        )
        last = f"Passages:\n{listed or '(none found)'}\n\nQuestion: {question}"
    else:
        last = question
    budget = max_chars - len(system) - len(last)
    earlier: list[dict] = []
    for turn in reversed(history):
        budget -= len(turn.text)
        if budget < 0:
            break
        earlier.insert(
            0, {"role": "user" if turn.role == USER else "assistant", "content": turn.text}
        )
    return [{"role": "system", "content": system}, *earlier, {"role": "user", "content": last}]


class OpenAIBackend:
    """A chat model behind an OpenAI-compatible API (OPENAI_BASE_URL), streamed."""

    def __init__(self, settings: AssistantSettings):
        self.settings = settings
        self.api = llm.client(settings)
        self.model = f"openai/{settings.openai_chat_model}"
        self.metered = True

    async def answer(
        self, question, history, passages, reply, timeout, instructions="", grounded=True
    ):
        settings = self.settings
        if not grounded:
            passages = []
        messages = prompt(
            question, history, passages, settings.openai_max_input_chars, instructions, grounded
        )
        reply.cited = list(passages)
        stream = await llm.call(
            self.api.chat.completions.create(
                model=settings.openai_chat_model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=settings.assistant_max_answer_tokens,
                temperature=0,
                timeout=timeout,
            )
        )
        chunks = aiter(stream)
        written = 0  # pieces streamed
        # The whole answer within the call's deadline, so that running out of time is an
        # error this stream reports itself (gRPC's own deadline would only cut it).
        deadline = Deadline.within(timeout) if timeout is not None else None
        try:
            while True:
                left = deadline.remaining() if deadline is not None else None
                try:  # (not wait_for: on Python 3.11 it can swallow the caller's cancel)
                    async with asyncio.timeout(left):
                        chunk = await llm.call(anext(chunks))
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise DeadlineExceeded("the model did not finish its answer in time") from None
                except DomainError:
                    raise
                except Exception as error:
                    # An error event in the stream (openai.APIError) or the response cut
                    # short (the HTTP library's own error, whichever openai uses): the
                    # request went through, the answer did not.
                    log.warning("the model's stream failed", exc_info=True)
                    import openai  # loaded by now: this backend's client made the request

                    reason = error.message if isinstance(error, openai.APIError) else "cut short"
                    raise Unavailable(f"the model server failed mid-answer: {reason}") from None
                if chunk.usage is not None:
                    reply.input_tokens = chunk.usage.prompt_tokens
                    reply.output_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.delta.content:
                        written += 1
                        yield choice.delta.content
        finally:
            # Also when the caller goes away: closing the response stops the model.
            await stream.close()
            if not reply.input_tokens and not reply.output_tokens:
                # Cut short before the model's own count came (it comes last): the prompt
                # was read and the pieces sent were written all the same. Estimated, at
                # about four characters a token and a token a piece, for the budgets.
                reply.input_tokens = sum(len(m["content"]) for m in messages) // 4
                reply.output_tokens = written
            # Priced by the configured name: servers answer with dated or file names.
            model = settings.openai_chat_model
            reply.cost_usd = llm.cost(settings, model, reply.input_tokens, reply.output_tokens)
            metrics.record_usage(
                "openai", model, reply.input_tokens, reply.output_tokens, reply.cost_usd
            )

    async def close(self) -> None:
        await self.api.close()
