"""The two ways an event can be refused, kept apart because they go to different places.

An ``EventDecodeError`` means the bytes are not an ``ApiEvent`` at all; an
``InvalidEventError`` means they are, but the record breaks the guide's rules. Both are
``ValueError`` so callers that do not care can catch one thing; both carry a short
machine-readable ``reason``/``field`` for metric labels and a message written for the
human who reads the dead-letter topic.
"""

from __future__ import annotations

from typing import Literal

DecodeReason = Literal["empty", "bad-magic", "unknown-schema", "truncated", "corrupt"]


class EventDecodeError(ValueError):
    """The bytes cannot be read as an ``ApiEvent``."""

    def __init__(self, reason: DecodeReason, message: str) -> None:
        super().__init__(message)
        self.reason: DecodeReason = reason


class InvalidEventError(ValueError):
    """The record is not one CloudTrail could have written; ``field`` names the member."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def show(value: object, limit: int = 60) -> str:
    """``repr`` of a rejected value, cut short: messages go to logs and the DLQ, not dumps."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
