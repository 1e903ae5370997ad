"""The trail registry under growth: reloads compile off the event loop, incrementally."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from pathlib import Path

from loadtest.traffic import TrafficMix, account_ids, trail_set
from recorder.obs.http import app, serve
from recorder.obs.metrics import Metrics
from recorder.routing import RoutingEngine
from recorder.services.registry import TrailRegistry
from recorder.settings import Settings
from recorder.stack.processes import free_port
from recorder.trails import Trail
from tests.unit.services.records import trails_record


def _docs(n: int) -> list[dict[str, object]]:
    return trail_set(account_ids(max(1, n // 10)), n)


async def test_healthz_is_served_while_10000_trails_reload(tmp_path: Path) -> None:
    trails_file = tmp_path / "trails.json"
    trails_file.write_text(json.dumps(_docs(10)))
    registry = await TrailRegistry.start(Settings.from_env({}, trails_file=trails_file))
    port = free_port()
    runner = await serve(app(Metrics(), lambda: True), "127.0.0.1", port)
    loaded = registry.version
    served_during_reload = 0
    done = threading.Event()

    def probe() -> None:  # a client on its own thread: it runs whether or not the loop does
        nonlocal served_during_reload
        while not done.is_set():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as r:
                assert r.status == 200
            if registry.version == loaded:
                served_during_reload += 1

    prober = threading.Thread(target=probe)
    try:
        trails_file.write_text(json.dumps(_docs(10_000)))
        reload = asyncio.create_task(registry.reload_file())
        prober.start()
        assert await reload
    finally:
        done.set()
        await asyncio.to_thread(prober.join)
        await runner.cleanup()
    assert registry.version == loaded + 1
    assert len(registry.trails) == 10_000
    # A loop blocked by the compile answers nothing until the new trail set is in.
    assert served_during_reload >= 3


def test_incremental_compile_reuses_unchanged_scopes_and_routes_as_a_full_compile() -> None:
    accounts = account_ids(20)
    trails = [Trail.from_api(d) for d in trail_set(accounts, 60)]
    before = RoutingEngine.compile(trails, {})
    # one account's trail changes: it stops logging
    changed = trails[0].account_id
    stopped = Trail.from_api({**trails[0].to_api(), "IsLogging": False})
    edited = [stopped, *trails[1:]]
    after = RoutingEngine.compile(edited, {}, previous=before)
    full = RoutingEngine.compile(edited, {})
    for account in accounts:
        reused = after._accounts[account] is before._accounts[account]
        assert reused == (account != changed)
    mix = TrafficMix(accounts)
    for _ in range(2000):
        record = mix.event()
        assert after.route(record) == full.route(record)


async def test_lease_records_compile_nothing_and_a_change_compiles_its_account_only() -> None:
    accounts = account_ids(50)
    docs = trail_set(accounts, 150)
    registry = TrailRegistry(Settings.from_env({}))
    await registry._apply([trails_record(i, d["TrailARN"], d) for i, d in enumerate(docs)])
    engine, version = registry.engine(), registry.version
    leases = [
        trails_record(200 + i, f"lease/{accounts[i]}", {"op": "acquire", "id": f"l{i}"})
        for i in range(10)
    ]
    await registry._apply(leases)
    assert (registry.engine(), registry.version) == (engine, version)
    stopped = {**docs[0], "IsLogging": False}
    await registry._apply([trails_record(300, docs[0]["TrailARN"], stopped)])
    after = registry.engine()
    assert registry.version == version + 1
    changed = Trail.from_api(docs[0]).account_id
    for account in accounts:
        assert (after._accounts.get(account) is engine._accounts.get(account)) == (
            account != changed
        )
    full = RoutingEngine.compile(list(registry.trails.values()), {})
    mix = TrafficMix(accounts)
    for _ in range(2000):
        record = mix.event()
        assert after.route(record) == full.route(record)
    assert not registry.trails[docs[0]["TrailARN"]].is_logging
    assert [t.trail_arn for t in registry.trails.named(changed, docs[0]["Name"])] == [
        docs[0]["TrailARN"]
    ]
