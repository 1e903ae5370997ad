"""``recorder topics`` against the real broker: creates what is missing, checks the rest."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from recorder.stack.local import LocalStack

pytestmark = pytest.mark.integration

NAMES = (
    "api_events",
    "routed",
    "delivered",
    "trails",
    "dlq",
    "digest_state",
    "trail_status",
    "insights_state",
    "routed_retry",
    "aggregation_state",
)


def topics(stack: LocalStack, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder.cli", "topics", "--wait", "10"],
        env={**os.environ, "RECORDER_BOOTSTRAP_SERVERS": stack.bootstrap_servers, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_existing_topics_pass_and_missing_ones_are_created(stack: LocalStack) -> None:
    done = topics(stack)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(NAMES) and all(line.startswith("exists ") for line in lines)
    assert "exists   api-events (4 partitions)" in lines

    fresh = {f"RECORDER_TOPIC_{n.upper()}": f"fresh-{n}" for n in NAMES}
    first = topics(stack, **fresh)
    assert first.returncode == 0, first.stderr
    assert "created  fresh-api_events (4 partitions)" in first.stdout.splitlines()
    assert "created  fresh-trail_status (1 partitions)" in first.stdout.splitlines()
    again = topics(stack, **fresh)
    assert again.returncode == 0
    assert all(line.startswith("exists ") for line in again.stdout.splitlines())


def test_a_topic_with_too_few_partitions_is_reported(stack: LocalStack) -> None:
    # `dlq` exists with one partition; naming it as the routed topic must be flagged
    done = topics(stack, RECORDER_TOPIC_ROUTED="api-events-dlq")
    assert done.returncode == 1
    assert "problem: api-events-dlq: 1 partitions, settings expect 4" in done.stderr


def test_a_bad_replication_factor_is_refused(stack: LocalStack) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "recorder.cli", "topics", "--replication-factor", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--replication-factor must be >= 1" in done.stderr


def test_a_registry_topic_that_is_not_compacted_is_reported(stack: LocalStack) -> None:
    # a non-compacted topic would let the broker delete trails and digest chain state
    done = topics(stack, RECORDER_TOPIC_TRAILS="api-events-dlq")
    assert done.returncode == 1
    assert "problem: api-events-dlq: cleanup.policy=delete, must be compact" in done.stderr
