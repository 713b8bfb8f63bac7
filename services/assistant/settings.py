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
