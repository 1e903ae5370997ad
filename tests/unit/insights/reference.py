"""The Insights rule as first built (issue 15): every series decayed and decided at
every closed bucket, the whole state in memory. The stage's detector keeps series
lazily and writes them one by one (recorder.insights.detector); the tests hold it to
this one's decisions on the guide's examples and on random traffic."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from recorder.aws.times import format_seconds, from_epoch_seconds
from recorder.insights.detector import InsightEvent, Rule, SeriesKey, _uuid

#: A series whose weighted call sum fell below this, with no insight open, is
#: forgotten: re-created later it starts from zeros, which is what it had.
_FORGET_BELOW = 1e-4


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
