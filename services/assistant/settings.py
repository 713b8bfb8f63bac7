"""The assistant's settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import Settings


class AssistantSettings(Settings):
    # local answers with the best passages themselves (no model); openai asks the chat
    # model, whose answer is at most this many tokens.
    assistant_backend: Literal["local", "openai"] = "local"
    assistant_max_answer_tokens: int = Field(default=512, gt=0)
    # Model tokens (prompt and answer) each user may spend per day (UTC), over every
    # model; 0 means no limit. Past it a model call is refused (429 with Retry-After
    # through the gateway) until midnight UTC; the local extractive backend spends none.
    assistant_daily_token_budget: int = Field(default=0, ge=0)
    # The same per model id ({"openai/gpt-4o": 20000}), on top of the overall budget.
    assistant_model_daily_token_budgets: dict[str, int] = Field(default_factory=dict)
