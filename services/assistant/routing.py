"""Cost-aware routing: a cheap tier (the extractive answer, no model) answers first, and a
question goes to the strong tier (the chat model) only when measured signals say the
cheap answer is not enough.

The signals, all known before any model is called:

- confidence: the best retrieved passage's cosine score. A low one means the closest
  passage is only loosely about the question, and quoting it answers little.
- coverage: the share of the question's content words that the passages the extractive
  answer would quote contain (a word matches one that shares its first five letters:
  "approved" and "approval"). A question whose words are not in the quotes asks about
  something the quotes do not say, or asks for more than a quote (a comparison, a why).
- length: questions of many content words ask for more than one fact, which a quote
  rarely gives.

With no passage at all the cheap tier answers: the strong model would have nothing of
the user's to ground an answer on. The decision and its reason go with the reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.assistant.backends import Backend, ExtractiveBackend, OpenAIBackend
from services.assistant.settings import AssistantSettings
from services.assistant.store import Hit
from services.common.stopwords import WRITTEN

CHEAP = "cheap"
STRONG = "strong"
_WORDS = re.compile(r"[a-z0-9]+")
_STEM = 5  # letters two words must share to match


@dataclass(frozen=True)
class Thresholds:
    """Below `min_score` or `min_coverage`, or above `max_words`, a question escalates."""

    min_score: float = 0.3
    min_coverage: float = 0.5
    max_words: int = 12


@dataclass(frozen=True)
class Route:
    """Which tier answers a question, why, and the signals measured."""

    tier: str  # CHEAP or STRONG
    reason: str
    best_score: float
    coverage: float
    question_words: int

    @property
    def escalated(self) -> bool:
        return self.tier == STRONG

    def kept_cheap(self, why: str) -> Route:
        """The same signals, answered by the cheap tier after all, and why."""
        return replace(self, tier=CHEAP, reason=f"{self.reason}; {why}")


def content_words(text: str) -> set[str]:
    return {w for w in _WORDS.findall(text.lower()) if len(w) > 2 and w not in WRITTEN}


def coverage(question: str, passages: Sequence[Hit]) -> tuple[float, int]:
    """The share of the question's content words found in `passages`, and their number
    (a question of none is covered)."""
    asked = content_words(question)
    if not asked:
        return 1.0, 0
    stems = {w[:_STEM] for p in passages for w in content_words(p.text)}
    found = sum(1 for w in asked if w[:_STEM] in stems)
    return found / len(asked), len(asked)


def decide(
    question: str, passages: Sequence[Hit], cheap: ExtractiveBackend, limits: Thresholds
) -> Route:
    """The tier for `question` given the passages retrieved for it (best first)."""
    if not passages:
        return Route(CHEAP, "no passage found: nothing to ground a model's answer on", 0.0, 0.0, 0)
    best = passages[0].score
    covered, words = coverage(question, cheap.quoted(passages))
    reasons = []
    if best < limits.min_score:
        reasons.append(f"best passage score {best:.2f} below {limits.min_score:.2f}")
    if covered < limits.min_coverage:
        reasons.append(
            f"the quoted passages cover {covered:.0%} of the question's words,"
            f" below {limits.min_coverage:.0%}"
        )
    if words > limits.max_words:
        reasons.append(f"{words} content words in the question, over {limits.max_words}")
    if reasons:
        return Route(STRONG, "; ".join(reasons), best, covered, words)
    return Route(
        CHEAP,
        f"best passage score {best:.2f} and {covered:.0%} of the question's words quoted",
        best,
        covered,
        words,
    )


class Tiers:
    """The backends the router chooses between, and its thresholds. `routes`: whether a
    chat is routed; if not (AIORCH_ASSISTANT_BACKEND=openai), the strong tier answers it,
    and only an agent of the routed tier (`auto`) goes through the router."""

    def __init__(
        self,
        cheap: ExtractiveBackend,
        strong: Backend,
        thresholds: Thresholds,
        routes: bool = True,
    ):
        self.cheap = cheap
        self.strong = strong
        self.thresholds = thresholds
        self.routes = routes

    def routed(self) -> Tiers:
        """The same tiers and thresholds, routing (for an agent of the routed tier)."""
        return Tiers(self.cheap, self.strong, self.thresholds)

    def decide(self, question: str, passages: Sequence[Hit]) -> Route:
        return decide(question, passages, self.cheap, self.thresholds)

    def backend(self, route: Route) -> Backend:
        return self.strong if route.escalated else self.cheap

    async def close(self) -> None:
        await self.strong.close()


def open_answerer(settings: AssistantSettings) -> ExtractiveBackend | Tiers:
    """What answers chats (AIORCH_ASSISTANT_BACKEND): the local backend alone, or both
    tiers, routed or not; the router's thresholds are the settings' in either case."""
    if settings.assistant_backend not in ("routed", "openai"):
        return ExtractiveBackend()
    thresholds = Thresholds(
        settings.assistant_route_min_score,
        settings.assistant_route_min_coverage,
        settings.assistant_route_max_words,
    )
    routes = settings.assistant_backend == "routed"
    return Tiers(ExtractiveBackend(), OpenAIBackend(settings), thresholds, routes)
