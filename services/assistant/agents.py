"""Agents, declared as data: each a name, what it is for, the instructions it gives the
chat model, the tier that answers for it and whether it reads the user's documents. A chat
request may name several; they run at once and their answers are merged, each under its
name, citing passages numbered once for the whole answer.

The cheap tier quotes passages and reads no instructions (it runs no model); the strong
tier is the chat model with the agent's instructions; routed lets the router choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from services.assistant.routing import CHEAP, STRONG
from services.common.errors import DomainError, InvalidInput

ROUTED = "routed"
TIERS = (CHEAP, STRONG, ROUTED)
MAX_AGENTS = 4


class NoChatModel(DomainError):
    """An agent needs the chat model, and this assistant runs without one."""

    code = grpc.StatusCode.FAILED_PRECONDITION


@dataclass(frozen=True)
class Agent:
    name: str
    description: str
    tier: str  # CHEAP, STRONG or ROUTED
    retrieves: bool
    instructions: str = ""

    def __post_init__(self):
        if self.tier not in TIERS:
            raise ValueError(f"{self.name}: unknown tier {self.tier!r}")
        if self.tier in (CHEAP, ROUTED) and not self.retrieves:
            # The cheap tier quotes passages, and the router measures them.
            raise ValueError(f"{self.name}: the {self.tier} tier needs retrieved passages")


AGENTS = {
    agent.name: agent
    for agent in (
        Agent(
            "quick",
            "Quotes the passages of your documents closest to the question; no model.",
            CHEAP,
            retrieves=True,
        ),
        Agent(
            "analyst",
            "Answers from your documents in a few sentences, citing each passage it uses.",
            STRONG,
            retrieves=True,
            instructions="Answer in at most three sentences. Give figures, dates and names "
            "exactly as the passages state them.",
        ),
        Agent(
            "auto",
            "Quotes your documents, or asks the chat model when the quotes do not answer.",
            ROUTED,
            retrieves=True,
            instructions="Answer in at most three sentences.",
        ),
        Agent(
            "summarizer",
            "Summarises what your documents say about the question as short bullet points.",
            STRONG,
            retrieves=True,
            instructions="Answer as at most five short bullet points, one fact each.",
        ),
        Agent(
            "writer",
            "Rewrites or drafts text from the conversation alone; reads no documents.",
            STRONG,
            retrieves=False,
            instructions="You help the user write: rephrase, shorten or draft the text they "
            "ask for from the conversation so far. There are no passages; cite nothing.",
        ),
    )
}


def named(names: Sequence[str]) -> list[Agent]:
    """The agents a request names, checked: known, each once, at most MAX_AGENTS."""
    if len(names) > MAX_AGENTS:
        raise InvalidInput("agents", f"more than {MAX_AGENTS} agents")
    found = []
    for i, name in enumerate(names):
        if name not in AGENTS:
            raise InvalidInput(
                f"agents[{i}]", f"no agent {name[:100]!r}: one of {', '.join(AGENTS)}"
            )
        if name in names[:i]:
            raise InvalidInput(f"agents[{i}]", f"{name!r} named twice")
        found.append(AGENTS[name])
    return found
