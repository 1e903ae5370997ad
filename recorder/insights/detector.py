"""The Insights detector: per-bucket call counts in, Insights start/end events out. Pure.

CloudTrail Insights (guide lines 367, 4943-5035) watches the per-minute volume of
write management calls of each API in one account and region, learns its normal
level (the *baseline*), and logs a pair of events around a period when the volume
leaves the normal range: ``Start`` in the first unusual minute, ``End`` when the
volume is back. This module is that rule, on plain data, with no I/O and no clock:
the stage (:mod:`recorder.insights.service`) feeds it counts and tells it which
buckets are closed.

The rule (its parameters are :class:`Rule`; README "Insights" says the same):

* A *series* is one (account, region, eventSource, eventName, insightType[,
  errorCode]); its value per bucket (a minute by default) is the number of calls in
  it (``ApiCallRateInsight``) or of calls that failed with that error code
  (``ApiErrorRateInsight``). Buckets with no call count as 0.
* The baseline is an exponentially weighted mean and standard deviation of the
  series with a span of ``window`` buckets (weight ``(1 - 1/window)**age``), over
  every bucket since its account's first counted call; a series first seen later
  had 0 calls before. A steady series has exactly its level as baseline.
* Nothing is detected in an account until ``window`` buckets have closed since its
  first counted call (learning: Insights just turned on have no history).
* The normal range is ``mean +- k * s`` with ``s = max(std, rel_floor * mean,
  abs_floor)``: the floors keep a perfectly steady or a near-silent series from
  calling every small wobble unusual.
* A bucket outside the range opens an insight (``Start``, at that bucket's start,
  ``insight.average`` = that bucket's value). While open the baseline and range
  are frozen (unusual buckets do not teach the baseline). The first bucket back
  inside the range closes it (``End``, at that bucket's start; ``insight.average``
  = mean over the unusual buckets; ``insightDuration`` = their number in minutes).

Averages are reported per minute (scaled by ``60 / bucket_seconds``), as the guide's
statistics are. Event IDs and the pair's ``sharedEventID`` are UUIDs derived from
the series and the start bucket, so a detector rebuilt from its records that decides
again emits the very same IDs and the writer's eventID de-duplication keeps one copy.

State is kept per series, lazily: a series holds its sums as of the last bucket
that counted a call for it (``at``), and a run of buckets without one is applied in
one step when the series is next looked at. Closing a bucket therefore touches the
series that had calls in it, the open insights, and the *busy* series (a mean above
``k * abs_floor``: only those can fall out of the normal range with no call at all);
a quiet stretch costs nothing per series. What changed is handed out as one small
record per series (:meth:`Detector.take_changes`), for a compacted topic: no state
grows into one message. Error codes are bounded per API (:data:`MAX_ERROR_CODES`),
the rest counted under :data:`OTHER_ERROR_CODE`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from recorder.aws.times import format_seconds, from_epoch_seconds

CALL_RATE = "ApiCallRateInsight"
ERROR_RATE = "ApiErrorRateInsight"
INSIGHT_TYPES = (CALL_RATE, ERROR_RATE)

#: Namespace of the derived event IDs (fixed: IDs must be the same after a restart).
_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-4c5d-9e6f-a1b2c3d4e5f6")
#: A series whose weighted call sum fell below this, with no insight open, is
#: forgotten: re-created later it starts from zeros, which is what it had.
_FORGET_BELOW = 1e-4
#: Error codes come from producers: per API (account, Region, source, name) at most
#: this many get a series of their own; calls failing with any other code are counted
#: under ``OTHER_ERROR_CODE``, as are codes no AWS service would send.
MAX_ERROR_CODES = 10
OTHER_ERROR_CODE = "OtherErrors"
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,127}")


class SeriesKey(NamedTuple):
    account_id: str
    region: str
    event_source: str
    event_name: str
    insight_type: str = CALL_RATE
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """The detection rule's parameters (see the module docstring)."""

    window: int = 7 * 24 * 60  # buckets the baseline spans (7 days of minutes)
    k: float = 4.0  # half-width of the normal range, in (floored) deviations
    rel_floor: float = 0.1  # deviation floor relative to the mean
    abs_floor: float = 1.0  # deviation floor in calls per bucket
    bucket_seconds: int = 60

    def __post_init__(self) -> None:
        if self.window < 1 or self.k <= 0 or self.bucket_seconds < 1:
            raise ValueError(f"bad Insights rule: {self}")

    @property
    def decay(self) -> float:
        return 1.0 - 1.0 / self.window if self.window > 1 else 0.0

    @property
    def per_minute(self) -> float:
        return 60.0 / self.bucket_seconds


@dataclass(frozen=True, slots=True)
class InsightEvent:
    """One Insights event (``Start`` or ``End``) as plain data."""

    key: SeriesKey
    state: str  # "Start" | "End"
    bucket: int  # the bucket whose start is the eventTime
    event_time: str
    event_id: str
    shared_event_id: str
    baseline: float  # per minute
    insight: float  # per minute
    duration: float | None = None  # minutes; End only

    def to_record(self) -> dict[str, Any]:
        """The CloudTrail record, members in the guide's order (lines 11352-11412)."""
        statistics: dict[str, Any] = {
            "baseline": {"average": _number(self.baseline)},
            "insight": {"average": _number(self.insight)},
        }
        if self.duration is not None:
            statistics["insightDuration"] = _number(self.duration)
        details: dict[str, Any] = {
            "state": self.state,
            "eventSource": self.key.event_source,
            "eventName": self.key.event_name,
            "insightType": self.key.insight_type,
        }
        if self.key.error_code:
            details["errorCode"] = self.key.error_code
        details["insightContext"] = {"statistics": statistics}
        return {
            "eventVersion": "1.07",
            "eventTime": self.event_time,
            "awsRegion": self.key.region,
            "eventID": self.event_id,
            "eventType": "AwsCloudTrailInsight",
            "recipientAccountId": self.key.account_id,
            "sharedEventID": self.shared_event_id,
            "insightDetails": details,
            "eventCategory": "Insight",
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "state": self.state,
            "bucket": self.bucket,
            "eventTime": self.event_time,
            "eventID": self.event_id,
            "sharedEventID": self.shared_event_id,
            "baseline": self.baseline,
            "insight": self.insight,
            "duration": self.duration,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> InsightEvent:
        return cls(
            SeriesKey(*doc["key"]),
            str(doc["state"]),
            int(doc["bucket"]),
            str(doc["eventTime"]),
            str(doc["eventID"]),
            str(doc["sharedEventID"]),
            float(doc["baseline"]),
            float(doc["insight"]),
            None if doc.get("duration") is None else float(doc["duration"]),
        )


@dataclass(slots=True)
class _Open:
    start_bucket: int
    shared_event_id: str
    mean: float
    low: float
    high: float
    total: float
    buckets: int

    def to_json(self) -> list[Any]:
        return [
            self.start_bucket,
            self.shared_event_id,
            self.mean,
            self.low,
            self.high,
            self.total,
            self.buckets,
        ]

    @classmethod
    def from_json(cls, o: list[Any]) -> _Open:
        return cls(int(o[0]), str(o[1]), *(float(x) for x in o[2:6]), int(o[6]))


@dataclass(slots=True)
class _Series:
    """One series: its weighted sums as of bucket ``at``, the first bucket of its
    account (learning), an open insight, and the last bucket whose decision this
    state holds (``through``) with the events decided then."""

    s: float
    q: float
    d: float
    at: int
    start: int
    open: _Open | None = None
    through: int = -1
    events: tuple[InsightEvent, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "s": self.s,
            "q": self.q,
            "d": self.d,
            "at": self.at,
            "start": self.start,
            "open": None if self.open is None else self.open.to_json(),
            "through": self.through,
            "events": [e.to_json() for e in self.events],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> _Series:
        o = doc.get("open")
        return cls(
            float(doc["s"]),
            float(doc["q"]),
            float(doc["d"]),
            int(doc["at"]),
            int(doc["start"]),
            None if o is None else _Open.from_json(o),
            int(doc.get("through", -1)),
            tuple(InsightEvent.from_json(e) for e in doc.get("events", ())),
        )


@dataclass
class Detector:
    """The state of one stream of calls (one partition of ``api-events``).

    :meth:`observe` counts a call into its bucket; :meth:`close_through` closes every
    bucket up to one, in order, and returns the Insights events they decide. A call
    into a bucket already closed is *late* and is not counted (``observe`` says so).
    :meth:`take_changes` hands out the series records changed since the last call,
    and :meth:`restore` builds a detector again from the last record of each series.
    """

    rule: Rule = field(default_factory=Rule)
    closed_through: int | None = None  # last closed bucket
    series: dict[SeriesKey, _Series] = field(default_factory=dict)
    pending: dict[int, Counter[SeriesKey]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._starts: dict[str, int] = {}  # account -> its first bucket
        self._busy: set[SeriesKey] = set()  # not open, mean above k * abs_floor
        self._open: set[SeriesKey] = set()
        self._codes: dict[tuple[str, str, str, str], set[str]] = {}  # API -> error codes
        self._changed: dict[SeriesKey, _Series | None] = {}
        self._sweeping: list[SeriesKey] = []
        for key, st in self.series.items():
            self._index(key, st)

    # -- input ------------------------------------------------------------------------
    def observe(self, key: SeriesKey, bucket: int, n: int = 1) -> bool:
        if self.closed_through is not None and bucket <= self.closed_through:
            return False
        if key.insight_type == ERROR_RATE:
            key = self._error_series(key)
        counts = self.pending.get(bucket)
        if counts is None:
            counts = self.pending[bucket] = Counter()
        counts[key] += n
        return True

    def _error_series(self, key: SeriesKey) -> SeriesKey:
        """The key a failed call is counted under: its own code while the API has
        fewer than :data:`MAX_ERROR_CODES`, else the ``OTHER_ERROR_CODE`` series."""
        code = key.error_code
        api = (key.account_id, key.region, key.event_source, key.event_name)
        codes = self._codes.setdefault(api, set())
        if code in codes:
            return key
        if _ERROR_CODE.fullmatch(code) is None or len(codes) >= MAX_ERROR_CODES:
            code = OTHER_ERROR_CODE
        codes.add(code)
        return key._replace(error_code=code)

    def bucket_of(self, epoch_seconds: float) -> int:
        return int(epoch_seconds // self.rule.bucket_seconds)

    def learning(self, account_id: str) -> bool:
        """Whether the account's series are still learning their baseline."""
        start = self._starts.get(account_id)
        if start is None:
            return True
        return self.closed_through is None or self.closed_through + 1 - start < self.rule.window

    @property
    def open_insights(self) -> int:
        return len(self._open)

    def accounts(self) -> set[str]:
        return set(self._starts)

    # -- deciding ---------------------------------------------------------------------
    def close_through(self, bucket: int) -> list[InsightEvent]:
        """Close every bucket ``<= bucket`` not closed yet, oldest first."""
        if self.closed_through is None:
            if not self.pending:
                return []  # nothing seen yet: the stream starts with its first call
            first = min(self.pending)
            if first > bucket:
                return []
            self.closed_through = first - 1
        out: list[InsightEvent] = []
        b = self.closed_through + 1
        while b <= bucket:
            counts = self.pending.pop(b, None)
            if counts is None and not self._busy and not self._ends_on_silence():
                # a quiet stretch: nothing can change but open insights grow longer
                later = [p for p in self.pending if p <= bucket]
                end = min(later) - 1 if later else bucket
                self._quiet(b, end)
                b = end + 1
                continue
            out += self._close(b, counts or Counter())
            b += 1
        self.closed_through = max(self.closed_through, bucket)
        self._sweep(self.closed_through)
        return out

    def _sweep(self, bucket: int, budget: int = 256) -> None:
        """Forget, a few at a time, series whose calls have decayed away while no
        close looked at them (a quiet series is not visited otherwise)."""
        if not self._sweeping:
            self._sweeping = list(self.series)
        decay = self.rule.decay
        for _ in range(min(budget, len(self._sweeping))):
            key = self._sweeping.pop()
            st = self.series.get(key)
            if (
                st is not None
                and st.open is None
                and st.s * decay ** (bucket - st.at) < _FORGET_BELOW
            ):
                self._forget(key)

    def _ends_on_silence(self) -> bool:
        return any(self.series[k].open.low <= 0.0 for k in self._open)  # type: ignore[union-attr]

    def _quiet(self, first: int, last: int) -> None:
        """Buckets ``first..last`` with no call and no busy series: no series leaves
        its range; the open insights (none of which ends on silence) last longer."""
        n = last - first + 1
        for key in self._open:
            st = self.series[key]
            assert st.open is not None
            st.open.buckets += n
            self._touch(key, st, ())
        self.closed_through = last

    def _close(self, bucket: int, counts: Mapping[SeriesKey, int]) -> list[InsightEvent]:
        rule = self.rule
        out: list[InsightEvent] = []
        for key in counts:
            if key not in self.series:
                # First seen: it had zeros since its account's first bucket.
                start = self._starts.setdefault(key.account_id, bucket)
                d = _ones(rule.decay, bucket - start)
                st = _Series(0.0, 0.0, d, bucket - 1, start, through=bucket - 1)
                self.series[key] = st
                self._index(key, st)
        for key in {*counts, *self._open, *self._busy}:
            st = self.series.get(key)
            if st is None:
                continue
            if st.through >= bucket:
                # decided already: its record, written before a restart, holds it
                out += [e for e in st.events if e.bucket == bucket]
                continue
            c = float(counts.get(key, 0))
            events: tuple[InsightEvent, ...] = ()
            if st.open is not None:
                o = st.open
                if o.low <= c <= o.high:
                    events = (self._end(key, o, bucket),)
                    st.open = None
                    st.at = bucket - 1  # the frozen baseline goes on from here
                else:
                    o.total += c
                    o.buckets += 1
                    self._touch(key, st, ())
                    continue  # frozen baseline: unusual buckets do not teach it
            else:
                self._decay(st, bucket - 1)
                if bucket - st.start >= rule.window:  # the account has learned
                    mean, low, high = self._range(st)
                    if c < low or c > high:
                        shared = _uuid(key, bucket, "shared")
                        st.open = _Open(bucket, shared, mean, low, high, c, 1)
                        events = (
                            InsightEvent(
                                key,
                                "Start",
                                bucket,
                                self._time(bucket),
                                _uuid(key, bucket, "Start"),
                                shared,
                                mean * rule.per_minute,
                                c * rule.per_minute,
                            ),
                        )
                        out += events
                        self._touch(key, st, events)
                        continue
                if not c:
                    # a silent bucket changes nothing stored (applied lazily later)
                    if st.s * rule.decay < _FORGET_BELOW:
                        self._forget(key)
                    elif st.s <= rule.k * rule.abs_floor * st.d:
                        self._busy.discard(key)
                    continue
            decay = rule.decay
            st.s = st.s * decay + c
            st.q = st.q * decay + c * c
            st.d = st.d * decay + 1.0
            st.at = bucket
            out += events
            if st.s < _FORGET_BELOW and st.open is None:
                self._forget(key)
            else:
                self._touch(key, st, events)
        out.sort(key=lambda e: e.key)  # one order, however the series were visited
        return out

    def _decay(self, st: _Series, to: int) -> None:
        """Apply the silent buckets ``st.at + 1 .. to`` in one step."""
        k = to - st.at
        if k > 0:
            decay = self.rule.decay
            f = decay**k
            st.s *= f
            st.q *= f
            st.d = st.d * f + _ones(decay, k)
            st.at = to

    def _touch(self, key: SeriesKey, st: _Series, events: tuple[InsightEvent, ...]) -> None:
        """A series changed in this round (the closes since :meth:`take_changes`); its
        record will hold every event it decided in the round."""
        if self._changed.get(key) is not st:
            st.events = ()
        st.events += events
        self._changed[key] = st
        self._index(key, st)

    def _index(self, key: SeriesKey, st: _Series) -> None:
        self._starts.setdefault(key.account_id, st.start)
        if st.start < self._starts[key.account_id]:
            self._starts[key.account_id] = st.start
        if st.open is not None:
            self._open.add(key)
            self._busy.discard(key)
        else:
            self._open.discard(key)
            if st.d > 0 and st.s > self.rule.k * self.rule.abs_floor * st.d:
                self._busy.add(key)
            else:
                self._busy.discard(key)
        if key.insight_type == ERROR_RATE:
            api = (key.account_id, key.region, key.event_source, key.event_name)
            self._codes.setdefault(api, set()).add(key.error_code)

    def _forget(self, key: SeriesKey) -> None:
        self.series.pop(key, None)
        self._busy.discard(key)
        self._open.discard(key)
        self._changed[key] = None
        if key.insight_type == ERROR_RATE:
            api = (key.account_id, key.region, key.event_source, key.event_name)
            codes = self._codes.get(api)
            if codes is not None:
                codes.discard(key.error_code)

    def drop_account(self, account_id: str) -> int:
        """Forget every series of an account (its Insights were turned off); the
        number forgotten."""
        keys = [k for k in self.series if k.account_id == account_id]
        for key in keys:
            self._forget(key)
        self._starts.pop(account_id, None)
        for api in [a for a in self._codes if a[0] == account_id]:
            del self._codes[api]
        for counts in self.pending.values():
            for key in [k for k in counts if k.account_id == account_id]:
                del counts[key]
        return len(keys)

    def _range(self, st: _Series) -> tuple[float, float, float]:
        rule = self.rule
        if st.d <= 0:
            return 0.0, -math.inf, math.inf
        mean = st.s / st.d
        std = math.sqrt(max(st.q / st.d - mean * mean, 0.0))
        spread = rule.k * max(std, rule.rel_floor * mean, rule.abs_floor)
        return mean, mean - spread, mean + spread

    def _end(self, key: SeriesKey, o: _Open, bucket: int) -> InsightEvent:
        rule = self.rule
        return InsightEvent(
            key,
            "End",
            bucket,
            self._time(bucket),
            _uuid(key, o.start_bucket, "End"),
            o.shared_event_id,
            o.mean * rule.per_minute,
            o.total / o.buckets * rule.per_minute,
            o.buckets * rule.bucket_seconds / 60.0,
        )

    def _time(self, bucket: int) -> str:
        return format_seconds(from_epoch_seconds(bucket * self.rule.bucket_seconds))

    # -- state ------------------------------------------------------------------------
    def take_changes(self) -> dict[SeriesKey, dict[str, Any] | None]:
        """The series records changed since the last call (``None``: forgotten), as
        JSON-able data; :meth:`restore` reads the last one of each back."""
        out: dict[SeriesKey, dict[str, Any] | None] = {}
        for key, st in self._changed.items():
            if st is None:
                out[key] = None
            else:
                st.through = self.closed_through if self.closed_through is not None else -1
                out[key] = st.to_json()
        self._changed.clear()
        return out

    def replayed_events(self) -> list[InsightEvent]:
        """The events of the last closed bucket, as the series records hold them: what
        a restored stage sends again (the writer keeps one copy of each)."""
        if self.closed_through is None:
            return []
        return [
            e for st in self.series.values() if st.through == self.closed_through for e in st.events
        ]

    @classmethod
    def from_snapshot(cls, rule: Rule, doc: Mapping[str, Any]) -> Detector:
        """A detector from the whole-state snapshot the stage wrote before it kept
        series one by one (one record per partition): what an upgraded stage takes
        over, with that snapshot's pending buckets."""
        closed = doc.get("closedThrough")
        det = cls(rule, closed)
        if closed is not None:
            start = int(closed) - int(doc.get("closedCount", 0)) + 1
            for key, s, q, d, o in doc.get("series", []):
                st = _Series(
                    float(s),
                    float(q),
                    float(d),
                    int(closed),
                    start,
                    None if o is None else _Open.from_json(o),
                    int(closed),
                )
                det.series[SeriesKey(*key)] = st
                det._index(SeriesKey(*key), st)
                det._changed[SeriesKey(*key)] = st
        for b, counts in doc.get("pending", []):
            det.pending[int(b)] = Counter({SeriesKey(*k): int(n) for k, n in counts})
        return det

    @classmethod
    def restore(
        cls,
        rule: Rule,
        closed_through: int | None,
        series: Iterable[tuple[SeriesKey, Mapping[str, Any]]],
    ) -> Detector:
        """A detector from its last closed bucket and each series' last record. A series
        recorded ahead of ``closed_through`` (a close that was cut short) is taken as
        decided for its bucket; closing that bucket again keeps it and re-emits its
        events."""
        det = cls(rule, closed_through)
        for key, doc in series:
            st = _Series.from_json(doc)
            det.series[key] = st
            det._index(key, st)
        return det


def replay(
    rule: Rule, series: Mapping[SeriesKey, Iterable[int]], start_bucket: int = 0
) -> list[InsightEvent]:
    """Run a fresh detector over per-bucket counts (one list per series, aligned on
    ``start_bucket``); what the tests and ``bench/`` drive."""
    det = Detector(rule)
    columns = {k: list(v) for k, v in series.items()}
    length = max((len(v) for v in columns.values()), default=0)
    out: list[InsightEvent] = []
    for i in range(length):
        b = start_bucket + i
        for key, values in columns.items():
            if i < len(values) and values[i]:
                det.observe(key, b, values[i])
        if det.closed_through is None and not det.pending:
            continue
        out += det.close_through(b)
    return out


def _ones(decay: float, n: int) -> float:
    """The weight of ``n`` buckets: sum of ``decay**i`` for ``i < n``."""
    if n <= 0:
        return 0.0
    if decay == 1.0:
        return float(n)
    return (1.0 - decay**n) / (1.0 - decay)


def _uuid(key: SeriesKey, bucket: int, what: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join((*key, str(bucket), what))))


def _number(x: float) -> float | int:
    """Whole numbers as integers (``664``), others to 10 places (``85.4202380952``)."""
    r = round(x, 10)
    return int(r) if r == int(r) else r
