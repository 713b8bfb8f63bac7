"""Meeting intelligence settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from typing import Literal

from services.common.settings import Settings


class MeetingIntelSettings(Settings):
    meeting_intel_backend: Literal["local", "openai"] = "local"
