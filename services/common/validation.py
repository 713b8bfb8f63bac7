"""Checks of request fields shared by several services; each failure names its field."""

from __future__ import annotations

from services.common.errors import InvalidInput


def require_text(value: str, field: str, max_chars: int) -> str:
    if not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_chars:
        raise InvalidInput(
            field, f"has {len(value)} characters, more than the limit of {max_chars}"
        )
    return value


def require_texts(values, field: str, max_items: int, max_chars: int) -> list[str]:
    if not values:
        raise InvalidInput(field, "must hold at least one text")
    if len(values) > max_items:
        raise InvalidInput(field, f"has {len(values)} texts, more than the limit of {max_items}")
    return [require_text(v, f"{field}[{i}]", max_chars) for i, v in enumerate(values)]
