"""The assistant's settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import Settings


class AssistantSettings(Settings):
    # local answers with the best passages themselves (no model); openai asks the chat
    # model, whose answer is at most this many tokens; routed answers locally and asks
    # the chat model only when the signals below say the local answer is not enough
    # (services/assistant/routing.py).
    assistant_backend: Literal["local", "openai", "routed"] = "local"
    assistant_max_answer_tokens: int = Field(default=512, gt=0)
    # routed escalates a question whose best passage scores below this (cosine), ...
    assistant_route_min_score: float = Field(default=0.3, ge=-1, le=1)
    # ... whose content words the quoted passages cover less than this share of, ...
    assistant_route_min_coverage: float = Field(default=0.5, ge=0, le=1)
    # ... or that has more content words than this. On the ELITR-Bench dev questions
    # (141; the quotes hold the reference answer for 78) these send 47 to the chat model,
    # of which the quotes miss the answer for 30 (64%, against 45% of all); the 94 kept
    # are answered by the quotes for 61 (65%, against 55%).
    assistant_route_max_words: int = Field(default=12, gt=0)
    # Model tokens (prompt and answer) each user may spend per day (UTC), over every
    # model; 0 means no limit. Past it a model call is refused (429 with Retry-After
    # through the gateway) until midnight UTC; the local extractive backend spends none.
    assistant_daily_token_budget: int = Field(default=0, ge=0)
    # The same per model id ({"openai/gpt-4o": 20000}), on top of the overall budget.
    assistant_model_daily_token_budgets: dict[str, int] = Field(default_factory=dict)
