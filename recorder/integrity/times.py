"""CloudTrail time strings (``YYYY-MM-DDTHH:MM:SSZ``) and the compact key form.

Digests carry whole-second UTC times, and the signed string embeds
``digestEndTime`` verbatim, so every time that reaches a digest goes through
:func:`format_time`: one spelling, whatever the caller's datetime looked like.
"""

from __future__ import annotations

import datetime as dt

from recorder.aws.times import format_seconds

#: The spelling at the end of a digest's object key (validation.py's DATE_FORMAT).
KEY_FORMAT = "%Y%m%dT%H%M%SZ"


def utc(t: dt.datetime) -> dt.datetime:
    """An aware UTC datetime truncated to the second; naive input is taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).replace(microsecond=0)


def format_time(t: dt.datetime) -> str:
    """The spelling used inside digests and in validate-logs' output."""
    return format_seconds(utc(t))


def format_key_time(t: dt.datetime) -> str:
    return utc(t).strftime(KEY_FORMAT)


def parse_time(value: str) -> dt.datetime:
    """Parse a CloudTrail time string (extended or basic ISO 8601) to aware UTC.

    The error text is validate-logs' own, because the validator reports it verbatim.
    """
    try:
        return utc(dt.datetime.fromisoformat(value))
    except (TypeError, ValueError):
        raise ValueError(f"Unable to parse date value: {value}") from None
