"""CloudTrail's time format: ``eventTime`` is UTC to the second, ``YYYY-MM-DDTHH:MM:SSZ``."""

from __future__ import annotations

import datetime as dt
import re

_EVENT_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z", re.ASCII)


def format_event_time(moment: dt.datetime) -> str:
    """``moment`` as an ``eventTime``. Naive datetimes are refused, not guessed at: the
    local-time reading Python would give them is wrong on any host not set to UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: eventTime needs an aware one")
    t = moment.astimezone(dt.UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def parse_event_time(text: str) -> dt.datetime:
    """The aware UTC datetime of an ``eventTime``; ValueError unless exactly that format
    and a real date (``strptime`` would also take single digits and a missing ``Z``)."""
    match = _EVENT_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not YYYY-MM-DDTHH:MM:SSZ")
    year, month, day, hour, minute, second = map(int, match.groups())
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
