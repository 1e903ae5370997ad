"""CloudTrail's two spellings of a UTC time.

* Seconds, ``2024-01-01T00:00:00Z``: ``eventTime``, ``userIdentity`` creation dates,
  digest times, the delivery and notification times of GetTrailStatus.
* Milliseconds, ``2024-01-01T00:00:00.000Z``: the times the control API keeps in a
  trail document (``StartLoggingTime``, ``UpdateTime``, a deletion's stop time).

Both are written with zero-padded fields whatever the year (``strftime`` would
write year 999 as ``999``) and from aware datetimes only: a naive one would be
read in the host's zone, which is wrong on any host not set to UTC.
"""

from __future__ import annotations

import datetime as dt
import re

_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
_ANY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d+))?Z", re.ASCII)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)
_SECOND = dt.timedelta(seconds=1)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()}: a CloudTrail time needs an aware one"
        )
    return moment.astimezone(dt.UTC)


def format_seconds(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, the fraction of a second dropped."""
    t = _utc(moment)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def format_millis(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffZ``, the microseconds beyond the millisecond dropped."""
    t = _utc(moment)
    return f"{format_seconds(t)[:-1]}.{t.microsecond // 1000:03d}Z"


def from_epoch_seconds(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def from_epoch_ms(ms: int) -> dt.datetime:
    """Exact: integer milliseconds, no float on the way."""
    return _EPOCH + dt.timedelta(milliseconds=ms)


def parse_seconds(text: str) -> dt.datetime:
    """The aware UTC datetime of exactly ``YYYY-MM-DDTHH:MM:SSZ`` with a real date;
    ValueError otherwise (``strptime`` would also take single digits and no ``Z``)."""
    m = _SECONDS.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not YYYY-MM-DDTHH:MM:SSZ")
    return dt.datetime.fromisoformat(text[:19]).replace(tzinfo=dt.UTC)


def _whole_second_and_millis(text: str) -> tuple[dt.datetime, int]:
    """The naive UTC whole second and the milliseconds of either spelling."""
    m = _ANY.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not YYYY-MM-DDTHH:MM:SS[.fff]Z")
    # the shape is checked: fromisoformat (in C) only reads the fields and checks the date
    second = dt.datetime.fromisoformat(text[:19])
    return second, int((m[1] or "").ljust(3, "0")[:3])


def parse_time(text: str) -> dt.datetime:
    """Either spelling (any number of fraction digits, cut to the millisecond) as an
    aware UTC datetime; ValueError otherwise."""
    second, millis = _whole_second_and_millis(text)
    return second.replace(microsecond=millis * 1000, tzinfo=dt.UTC)


def epoch_ms(text: str) -> int:
    """UTC epoch milliseconds of either spelling; ValueError otherwise. The router asks
    this of every record's ``eventTime``, so it stays on C-level datetime arithmetic."""
    second, millis = _whole_second_and_millis(text)
    return (second - _NAIVE_EPOCH) // _SECOND * 1000 + millis


def epoch_second(text: str) -> int:
    """Whole UTC epoch seconds of either spelling (an ``eventTime``, an API time)."""
    return epoch_ms(text) // 1000
