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
  every bucket since the detector started; a series first seen later had 0 calls
  before. A steady series has exactly its level as baseline.
* Nothing is detected until the detector has closed ``window`` buckets (learning).
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
the series and the start bucket, so a detector rebuilt from a snapshot that decides
again emits the very same IDs and the writer's eventID de-duplication keeps one copy.
"""

from __future__ import annotations

import math
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


@dataclass(slots=True)
class _Series:
    s: float = 0.0  # weighted sum of values
    q: float = 0.0  # weighted sum of squares
    d: float = 0.0  # weighted count of buckets
    open: _Open | None = None


@dataclass
class Detector:
    """The state of one stream of calls (one partition of ``api-events``).

    :meth:`observe` counts a call into its bucket; :meth:`close_through` closes every
    bucket up to one, in order, and returns the Insights events they decide. A call
    into a bucket already closed is *late* and is not counted (``observe`` says so).
    :meth:`snapshot` / :meth:`restore` round-trip the whole state as JSON-able data.
    """

    rule: Rule = field(default_factory=Rule)
    closed_through: int | None = None  # last closed bucket
    closed_count: int = 0  # buckets closed since the start
    weight: float = 0.0  # the weighted bucket count every series shares
    series: dict[SeriesKey, _Series] = field(default_factory=dict)
    pending: dict[int, Counter[SeriesKey]] = field(default_factory=dict)

    # -- input ------------------------------------------------------------------------
    def observe(self, key: SeriesKey, bucket: int, n: int = 1) -> bool:
        if self.closed_through is not None and bucket <= self.closed_through:
            return False
        counts = self.pending.get(bucket)
        if counts is None:
            counts = self.pending[bucket] = Counter()
        counts[key] += n
        return True

    def bucket_of(self, epoch_seconds: float) -> int:
        return int(epoch_seconds // self.rule.bucket_seconds)

    @property
    def learning(self) -> bool:
        return self.closed_count < self.rule.window

    @property
    def open_insights(self) -> int:
        return sum(1 for s in self.series.values() if s.open is not None)

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
        for b in range(self.closed_through + 1, bucket + 1):
            if not self.series and not self.pending:
                self._idle(bucket - b + 1)  # nothing known: only the clock moves
                break
            out += self._close(b, self.pending.pop(b, Counter()))
        self.closed_through = max(self.closed_through, bucket)
        return out

    def _idle(self, buckets: int) -> None:
        """``buckets`` closes with no series known, in one step (a long quiet gap)."""
        decay = self.rule.decay
        factor = decay**buckets
        ones = buckets if decay == 1.0 else (1.0 - factor) / (1.0 - decay)
        self.weight = self.weight * factor + ones
        self.closed_count += buckets

    def _close(self, bucket: int, counts: Mapping[SeriesKey, int]) -> list[InsightEvent]:
        rule = self.rule
        detecting = not self.learning
        out: list[InsightEvent] = []
        for key in counts:
            if key not in self.series:
                # Seen for the first time: it had zeros for every earlier bucket.
                self.series[key] = _Series(d=self.weight)
        decay = rule.decay
        forget: list[SeriesKey] = []
        for key, st in self.series.items():
            c = float(counts.get(key, 0))
            if st.open is not None:
                o = st.open
                if o.low <= c <= o.high:
                    out.append(self._end(key, o, bucket))
                    st.open = None
                else:
                    o.total += c
                    o.buckets += 1
                    continue  # frozen baseline: unusual buckets do not teach it
            elif detecting:
                mean, low, high = self._range(st)
                if c < low or c > high:
                    shared = _uuid(key, bucket, "shared")
                    st.open = _Open(bucket, shared, mean, low, high, c, 1)
                    out.append(
                        InsightEvent(
                            key,
                            "Start",
                            bucket,
                            self._time(bucket),
                            _uuid(key, bucket, "Start"),
                            shared,
                            mean * rule.per_minute,
                            c * rule.per_minute,
                        )
                    )
                    continue
            st.s = st.s * decay + c
            st.q = st.q * decay + c * c
            st.d = st.d * decay + 1.0
            if st.s < _FORGET_BELOW and st.open is None:
                forget.append(key)
        for key in forget:
            del self.series[key]
        self.weight = self.weight * decay + 1.0
        self.closed_count += 1
        return out

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
    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data; :meth:`restore` reads it back."""
        return {
            "closedThrough": self.closed_through,
            "closedCount": self.closed_count,
            "weight": self.weight,
            "series": [
                [
                    list(key),
                    st.s,
                    st.q,
                    st.d,
                    None
                    if st.open is None
                    else [
                        st.open.start_bucket,
                        st.open.shared_event_id,
                        st.open.mean,
                        st.open.low,
                        st.open.high,
                        st.open.total,
                        st.open.buckets,
                    ],
                ]
                for key, st in self.series.items()
            ],
            "pending": [
                [b, [[list(k), n] for k, n in counts.items()]]
                for b, counts in sorted(self.pending.items())
            ],
        }

    @classmethod
    def restore(cls, rule: Rule, doc: Mapping[str, Any]) -> Detector:
        det = cls(rule)
        det.closed_through = doc.get("closedThrough")
        det.closed_count = int(doc.get("closedCount", 0))
        det.weight = float(doc.get("weight", 0.0))
        for key, s, q, d, o in doc.get("series", []):
            opened = None
            if o is not None:
                opened = _Open(int(o[0]), str(o[1]), *(float(x) for x in o[2:6]), int(o[6]))
            det.series[SeriesKey(*key)] = _Series(float(s), float(q), float(d), opened)
        for b, counts in doc.get("pending", []):
            det.pending[int(b)] = Counter({SeriesKey(*k): int(n) for k, n in counts})
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


def _uuid(key: SeriesKey, bucket: int, what: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join((*key, str(bucket), what))))


def _number(x: float) -> float | int:
    """Whole numbers as integers (``664``), others to 10 places (``85.4202380952``)."""
    r = round(x, 10)
    return int(r) if r == int(r) else r
