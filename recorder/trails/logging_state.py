"""When a trail was logging: the periods between its StartLogging and StopLogging calls.

A trail records "events up to and including the ``StopLogging`` event" (guide line
8394), and an event is judged by the trail's state at the event's time, not at the
time a router happens to see it: an event produced before a StopLogging but routed
after it is still the trail's; one produced after it is not, however early it is
routed. So a trail keeps the periods it was logging in, as the control API records
them in the trail document (``LoggingPeriods``, a list of
``{"StartLoggingTime": ..., "StopLoggingTime": ...}``, the last one open while the
trail logs), and routing asks :func:`logging_at` with the event's time.

``eventTime`` has whole seconds; the API's times have milliseconds. The end of a
period includes its whole second: the StopLogging call's own record (timed when the
call arrived, before the stop took effect) is always inside, and an event in the
same second as the stop is taken as before it, since its record cannot tell. The
start of a period is decided finer when the router knows when the event was produced
(its Kafka timestamp, milliseconds): an event in the second of a StartLogging is the
trail's only if it was produced at or after the start. Without that timestamp (the
``recorder route`` tool), the whole second counts.

A trail with no recorded periods (a trails file, a document written before periods
existed) logs always or never, as ``IsLogging`` says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recorder.aws.times import epoch_ms, format_millis, from_epoch_ms
from recorder.trails.errors import TrailError

#: Periods a document keeps: the most recent ones (older ones matter only to events
#: delayed across that many StopLogging/StartLogging cycles).
MAX_LOGGING_PERIODS = 20


@dataclass(frozen=True, slots=True)
class LoggingPeriod:
    """Epoch milliseconds of the StartLogging and StopLogging (None while logging)."""

    start: int
    stop: int | None = None

    def covers(self, second: int, produced_ms: int | None = None) -> bool:
        """Whether an event of ``eventTime`` ``second``, produced at ``produced_ms``
        if known, falls in the period (see the module's note on the boundaries)."""
        start_second = self.start // 1000
        if second < start_second:
            return False
        if second == start_second and produced_ms is not None and produced_ms < self.start:
            return False
        return self.stop is None or second <= self.stop // 1000


def logging_at(
    periods: Sequence[LoggingPeriod], is_logging: bool, second: int, produced_ms: int | None = None
) -> bool:
    """Whether a trail with these periods logs an event of ``second``."""
    if not periods:
        return is_logging
    return any(p.covers(second, produced_ms) for p in periods)


def parse_logging_periods(doc: Mapping[str, Any]) -> tuple[LoggingPeriod, ...]:
    """The periods of a trail document; from ``LoggingPeriods`` when present, else the
    last period its ``StartLoggingTime``/``StopLoggingTime`` describe."""
    raw = doc.get("LoggingPeriods")
    try:
        if raw is not None:
            if not isinstance(raw, list):
                raise ValueError("LoggingPeriods is not a list")
            return tuple(_period(p) for p in raw)
        start, stop = doc.get("StartLoggingTime"), doc.get("StopLoggingTime")
        if not start:
            return ()
        begin = epoch_ms(start)
        if doc.get("IsLogging", True):
            return (LoggingPeriod(begin),)
        if stop and epoch_ms(stop) >= begin:
            return (LoggingPeriod(begin, epoch_ms(stop)),)
        return ()
    except (ValueError, TypeError) as exc:
        raise TrailError("InvalidParameterException", f"Invalid logging times: {exc}") from None


def _period(raw: object) -> LoggingPeriod:
    if not isinstance(raw, Mapping) or "StartLoggingTime" not in raw:
        raise ValueError(f"{raw!r} is not a logging period")
    stop = raw.get("StopLoggingTime")
    return LoggingPeriod(
        epoch_ms(raw["StartLoggingTime"]), None if stop is None else epoch_ms(stop)
    )


def start_period(periods: Sequence[LoggingPeriod], at: int) -> tuple[LoggingPeriod, ...]:
    """The periods after a StartLogging at ``at`` (epoch ms); an open period is kept."""
    out = tuple(periods)
    if not out or out[-1].stop is not None:
        out = (*out, LoggingPeriod(at))
    return out[-MAX_LOGGING_PERIODS:]


def stop_period(periods: Sequence[LoggingPeriod], at: int) -> tuple[LoggingPeriod, ...]:
    """The periods after a StopLogging (or a deletion) at ``at`` (epoch ms)."""
    out = tuple(periods)
    if out and out[-1].stop is None:
        out = (*out[:-1], LoggingPeriod(out[-1].start, at))
    return out


def periods_to_api(periods: Sequence[LoggingPeriod]) -> list[dict[str, str]]:
    """``LoggingPeriods`` as a trail document keeps them."""
    return [
        {"StartLoggingTime": format_millis(from_epoch_ms(p.start))}
        | ({} if p.stop is None else {"StopLoggingTime": format_millis(from_epoch_ms(p.stop))})
        for p in periods
    ]


def started(periods: list[dict[str, str]] | None, at: str) -> list[dict[str, str]]:
    """``LoggingPeriods`` of a document after a StartLogging at ``at``: :func:`start_period`
    on the stored strings, which it keeps as written (the registry retires deleted
    trails on documents)."""
    out = list(periods or [])
    if not out or "StopLoggingTime" in out[-1]:
        out.append({"StartLoggingTime": at})
    return out[-MAX_LOGGING_PERIODS:]


def stopped(periods: list[dict[str, str]] | None, at: str) -> list[dict[str, str]]:
    """``LoggingPeriods`` after a StopLogging (or a deletion) at ``at``."""
    out = list(periods or [])
    if out and "StopLoggingTime" not in out[-1]:
        out[-1] = {**out[-1], "StopLoggingTime": at}
    return out
