"""The classifier's settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import Settings


class ClassifierSettings(Settings):
    # Vectors of label prompts and examples kept between requests.
    classifier_cache_size: int = Field(default=4096, gt=0)
    classifier_backend: Literal["local", "openai"] = "local"
