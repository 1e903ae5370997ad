"""Shared fixtures. Integration tests get a real local stack (broker + moto) on free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port

# Property tests on a loaded 2-core CI machine: the same examples every run (a red run
# can be replayed), and no per-example deadline (a slow example is not a wrong one).
# `make test` selects it with --hypothesis-profile=ci; `dev` keeps Hypothesis's defaults.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A fresh broker and moto server per test module, so modules never see each other's data."""
    kind = os.environ.get("RECORDER_TEST_BROKER", "noida")
    s = LocalStack(
        root=tmp_path_factory.mktemp("stack"),
        kafka_port=free_port(),
        moto_port=free_port(),
        broker_kind=kind,
        partitions=4,
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
