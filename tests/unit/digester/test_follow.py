"""The digester follows trails that stop and start logging (guide lines 8392-8394): a
chain a StartLogging began gets its files and its own final digest, however its
trail's changes and its files interleave with what the digester has read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from recorder.integrity.chain import ChainState
from recorder.integrity.closing import PartitionWindows
from recorder.integrity.service import Digester
from recorder.obs.metrics import Metrics
from recorder.settings import Settings
from recorder.trails.logging_state import LoggingPeriod
from tests.unit.digester.test_closing import ARN, CHAIN, HOUR, T0, iso, manifest, marks

STOP1 = T0 + dt.timedelta(minutes=20)
START2 = STOP1 + dt.timedelta(seconds=20)
STOP2 = START2 + dt.timedelta(seconds=10)


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


@dataclass
class Trail:
    is_logging: bool
    logging_periods: tuple[LoggingPeriod, ...]
    log_file_validation_enabled: bool = True


@dataclass
class Registry:
    """The digester's view of `trails`: ``pending`` is written there and not read yet;
    ``fresh`` reads it (as TrailRegistry.fresh does: up to the end of the topic)."""

    trail: Trail
    version: int = 1
    pending: list[Trail] = field(default_factory=list)
    fresh_calls: int = 0

    def get(self, arn: str) -> Trail | None:
        return self.trail if arn == ARN else None

    async def fresh(self) -> None:
        self.fresh_calls += 1
        for trail in self.pending:
            self.trail = trail
            self.version += 1
        self.pending.clear()


def stopped_once() -> Trail:
    return Trail(False, (LoggingPeriod(ms(T0), ms(STOP1)),))


def stopped_twice() -> Trail:
    return Trail(False, (LoggingPeriod(ms(T0), ms(STOP1)), LoggingPeriod(ms(START2), ms(STOP2))))


def digester_after_the_first_final(registry: Registry) -> tuple[Digester, PartitionWindows]:
    """The first chain ended at STOP1 and its final digest is written; nothing since."""
    d = Digester(Settings(), registry, Metrics())
    windows = PartitionWindows(
        0,
        0,
        caught_up_at=0,
        interval=HOUR,
        grace=dt.timedelta(minutes=1),
        final_wait=dt.timedelta(minutes=10),
    )
    state = ChainState(CHAIN, None, ended=iso(STOP1), offset=2)
    d.states[CHAIN] = state
    d._windows = {TopicPartition(d.settings.topics.delivered, 0): windows}
    d._here = {0: {CHAIN}}
    d._ended = {ARN: STOP1}
    d._registry_version = registry.version
    windows.track(CHAIN, state)
    return d, windows


def second_period_file() -> object:
    return manifest(
        "second", STOP2 - dt.timedelta(seconds=1), oldest=START2 + dt.timedelta(seconds=1)
    )


def test_a_start_and_a_stop_read_in_one_look_open_and_end_a_chain() -> None:
    registry = Registry(stopped_once())
    d, windows = digester_after_the_first_final(registry)
    registry.trail, registry.version = stopped_twice(), 2  # both changes in one read
    d._follow_trails()
    assert d._ended[ARN] == STOP2
    assert windows.is_open(CHAIN)
    f = second_period_file()
    assert d._accepts(windows, 3, f)  # type: ignore[arg-type]
    windows.add(3, f, d.states[CHAIN])  # type: ignore[arg-type]
    marks(windows, STOP2 + dt.timedelta(seconds=5), d.states)
    (final,) = windows.due(STOP2 + dt.timedelta(seconds=5), d.states)
    assert (final.final, final.window.start, final.window.end, final.first_offset) == (
        True,
        START2,
        STOP2,
        3,
    )


async def test_a_file_of_a_chain_begun_since_the_last_look_is_taken_after_a_fresh_read() -> None:
    """The file of the second period arrives before the digester has read the
    StartLogging and the StopLogging: it reads `trails` up to its end before leaving
    the file out, and takes it."""
    registry = Registry(stopped_once(), pending=[stopped_twice()])
    d, windows = digester_after_the_first_final(registry)
    assert await d._belongs(windows, 3, second_period_file())  # type: ignore[arg-type]
    assert registry.fresh_calls == 1
    assert windows.is_open(CHAIN)
    assert d.metrics.digester_late_files._value.get() == 0


async def test_a_file_of_a_stopped_period_stays_out_and_is_counted() -> None:
    """Nothing began since the final digest: a file holding only events after the stop
    is in no digest (none may cover a stopped period), and is counted once."""
    registry = Registry(stopped_once())
    d, windows = digester_after_the_first_final(registry)
    late = manifest(
        "after", STOP1 + dt.timedelta(seconds=9), oldest=STOP1 + dt.timedelta(seconds=5)
    )
    assert not await d._belongs(windows, 3, late)
    assert registry.fresh_calls == 1
    assert not windows.is_open(CHAIN)
    assert d.metrics.digester_late_files._value.get() == 1


async def test_a_trail_logging_with_validation_turned_off_costs_no_second_look() -> None:
    """Validation was on, then turned off: the trail's files belong in no digest, and
    the digester does not read `trails` again for each of them."""
    registry = Registry(Trail(True, (LoggingPeriod(ms(T0)),), log_file_validation_enabled=False))
    d, windows = digester_after_the_first_final(registry)
    f = manifest(
        "no-validation", STOP1 + dt.timedelta(seconds=9), oldest=STOP1 + dt.timedelta(seconds=5)
    )
    assert not await d._belongs(windows, 3, f)
    assert registry.fresh_calls == 0
