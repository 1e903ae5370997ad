"""A broker that lost acknowledged records: resume at the log, stop when it shrinks."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from recorder.kafka import partitions
from recorder.kafka.lag import OffsetRegression, record_lag
from recorder.kafka.partitions import resume
from recorder.obs.metrics import Metrics
from recorder.settings import Settings

TP = TopicPartition("routed", 0)


class FakeConsumer:
    """The few consumer calls resume() and record_lag() make, over fixed offsets."""

    def __init__(self, begin: int, end: int, committed: int | None, position: int = 0) -> None:
        self.begin, self.end, self._committed, self._position = begin, end, committed, position
        self.seeks: list[int] = []

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.end for tp in tps}

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.begin for tp in tps}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self._committed

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def highwater(self, tp: TopicPartition) -> int:
        return self.end

    async def position(self, tp: TopicPartition) -> int:
        return self._position


@pytest.mark.parametrize(
    ("begin", "end", "fetched_end", "committed", "start"),
    [
        (0, 1000, 1000, 900, 900),  # the normal case: replay from the committed offset
        (0, 1000, 1000, None, 0),  # nothing committed yet: from the beginning
        (0, 890, 890, 931, 890),  # the log lost records past 890: start at its end
        (0, 1, 1200, 931, 931),  # a wrongly listed end (tansu), a fetch says 1200: no loss
        (500, 1000, 1000, 120, 500),  # retention deleted unconsumed records: the beginning
    ],
)
async def test_resume_starts_inside_the_log(
    monkeypatch: pytest.MonkeyPatch,
    begin: int,
    end: int,
    fetched_end: int,
    committed: int | None,
    start: int,
) -> None:
    async def fetched_log_end(settings: Settings, tp: TopicPartition, listed: int) -> int:
        assert listed == end
        return fetched_end

    monkeypatch.setattr(partitions, "fetched_log_end", fetched_log_end)
    consumer = FakeConsumer(begin, end, committed)
    resumed = await resume(consumer, [TP], Settings())  # type: ignore[arg-type]
    assert consumer.seeks == [start]
    assert resumed[TP].start == start and resumed[TP].end == max(end, fetched_end)


async def test_lag_is_high_watermark_minus_position() -> None:
    metrics = Metrics()
    assert await record_lag(FakeConsumer(0, 1000, None, position=940), metrics, "writer") == 60  # type: ignore[arg-type]
    assert metrics.consumer_lag.labels("writer", "0")._value.get() == 60


async def test_a_log_end_below_the_position_stops_the_consumer_and_is_counted() -> None:
    metrics = Metrics()
    with pytest.raises(OffsetRegression, match=r"routed\[0\]: log end 890 is below position 931"):
        await record_lag(FakeConsumer(0, 890, None, position=931), metrics, "writer")  # type: ignore[arg-type]
    assert metrics.offset_regressions.labels("writer", "0")._value.get() == 1
