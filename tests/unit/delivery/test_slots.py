"""Upload slots with fair shares: a stuck bucket holds at most its share, and a bucket
holding none never waits behind it (issue 27 item 5)."""

from __future__ import annotations

import asyncio

from recorder.delivery.slots import FairSlots


async def _hold(slots: FairSlots, key: str, release: asyncio.Event, started: list[str]) -> None:
    async with slots.take(key):
        started.append(key)
        await release.wait()


async def test_a_stuck_bucket_holds_its_share_and_a_healthy_one_is_served_at_once() -> None:
    slots = FairSlots(8)
    stuck = asyncio.Event()
    started: list[str] = []
    # twenty puts to a bucket that hangs, then two to another
    tasks = [asyncio.create_task(_hold(slots, "broken", stuck, started)) for _ in range(20)]
    await asyncio.sleep(0)
    assert slots.in_use["broken"] == 8  # alone: it may use every slot
    healthy = asyncio.Event()
    tasks += [asyncio.create_task(_hold(slots, "healthy", healthy, started)) for _ in range(2)]
    await asyncio.sleep(0)
    assert started.count("healthy") == 1  # at once, though the broken bucket fills all 8
    assert slots.share() == 4
    healthy.set()
    await asyncio.sleep(0.01)
    assert started.count("healthy") == 2
    # the broken bucket's puts end (time-outs): while others want slots it gets its share
    busy = asyncio.Event()
    tasks += [asyncio.create_task(_hold(slots, "busy", busy, started)) for _ in range(10)]
    stuck.set()
    await asyncio.sleep(0.01)
    stuck.clear()
    assert slots.in_use["busy"] >= 4
    busy.set()
    stuck.set()
    await asyncio.gather(*tasks)
    assert not slots.in_use and slots.waiting == 0


async def test_a_cancelled_waiter_gives_nothing_back_twice() -> None:
    slots = FairSlots(1)
    hold = asyncio.Event()
    started: list[str] = []
    first = asyncio.create_task(_hold(slots, "a", hold, started))
    await asyncio.sleep(0)
    second = asyncio.create_task(_hold(slots, "a", hold, started))
    await asyncio.sleep(0)
    second.cancel()
    hold.set()
    await asyncio.gather(first, second, return_exceptions=True)
    assert not slots.in_use and slots.waiting == 0
