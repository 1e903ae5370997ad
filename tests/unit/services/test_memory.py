"""Service processes run the cyclic collector with the configured first threshold
(Python's own with 0), and freeze what start-up allocated."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from recorder.services.memory import freeze_startup, tune_collector
from recorder.settings import Settings


@pytest.fixture
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_the_first_threshold_is_the_settings(restored: None) -> None:
    _, second, third = gc.get_threshold()
    tune_collector(Settings.from_env({}).gc_threshold)
    assert gc.get_threshold() == (50_000, second, third)
    tune_collector(Settings.from_env({"RECORDER_GC_THRESHOLD": "120000"}).gc_threshold)
    assert gc.get_threshold() == (120_000, second, third)


def test_zero_keeps_pythons_own(restored: None) -> None:
    gc.set_threshold(700, 10, 10)
    tune_collector(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_what_start_up_allocated_is_frozen(restored: None) -> None:
    kept = [{"n": i} for i in range(1000)]
    freeze_startup()
    assert gc.get_freeze_count() >= len(kept)
