"""What the local broker's retention may delete: only what every group has read,
and only ``margin`` seconds after the slowest group committed past it."""

from __future__ import annotations

import argparse

from aiokafka import TopicPartition

from recorder.settings import Topics
from recorder.stack.local import add_retention_margin_argument
from recorder.stack.retention import Horizon, Untrusted, deletions, low_marks, transit_topics

API0, API1 = TopicPartition("api-events", 0), TopicPartition("api-events", 1)
ROUTED0 = TopicPartition("routed", 0)
TOPICS = {"api-events": "recorder-router", "routed": "recorder-writer"}


def test_transit_topics_are_the_two_high_volume_logs_with_the_stage_that_reads_them() -> None:
    # not routed-retry: its parking lot commits past parked batches still pending
    assert transit_topics(Topics()) == {
        "api-events": "recorder-router",
        "routed": "recorder-writer",
    }


def test_the_slowest_group_decides_and_the_topics_own_stage_must_have_committed() -> None:
    committed = {
        "recorder-router": {API0: 900, API1: 50},
        "recorder-insights": {API0: 400},  # reads api-events too, and is behind on 0
        "recorder-writer": {ROUTED0: 70},
        "some-tool": {TopicPartition("trails", 0): 3},  # a topic no retention touches
    }
    assert low_marks(committed, TOPICS) == {API0: 400, API1: 50, ROUTED0: 70}
    # the router has not committed partition 1: another group's commit alone is not enough
    assert low_marks({"recorder-insights": {API1: 10}}, TOPICS) == {}
    # -1 is Kafka's "no offset": it neither counts as a commit nor lowers the mark
    assert low_marks({"recorder-router": {API0: -1}}, TOPICS) == {}
    assert low_marks({"recorder-router": {API0: 5}, "other": {API0: -1}}, TOPICS) == {API0: 5}


def test_nothing_is_due_until_a_mark_is_margin_seconds_old() -> None:
    h = Horizon(margin=10.0)
    assert h.observe(100.0, {API0: 50}) == {}
    assert h.observe(105.0, {API0: 80}) == {}
    assert h.observe(110.0, {API0: 90}) == {API0: 50}  # the mark of t=100
    assert h.observe(114.0, {API0: 95}) == {API0: 50}
    assert h.observe(115.0, {API0: 99}) == {API0: 80}  # the mark of t=105
    assert h.observe(130.0, {API0: 120}) == {API0: 99}


def test_a_mark_that_went_back_is_not_passed_and_a_gone_partition_is_not_due() -> None:
    h = Horizon(margin=5.0)
    h.observe(0.0, {API0: 500, API1: 20})
    # partition 0's group went back (a reset to an earlier offset); partition 1 is gone
    assert h.observe(6.0, {API0: 300}) == {API0: 300}


def test_with_no_margin_the_marks_now_are_due() -> None:
    h = Horizon(margin=0.0)
    assert h.observe(1.0, {API0: 7}) == {API0: 7}
    assert h.observe(2.0, {API0: 9, ROUTED0: 4}) == {API0: 9, ROUTED0: 4}


def test_only_partitions_whose_due_point_moved_are_deleted_again() -> None:
    assert deletions({API0: 50, API1: 10, ROUTED0: 7}, {API0: 50, API1: 3}) == {
        API1: 10,
        ROUTED0: 7,
    }
    assert deletions({API0: 0}, {}) == {}  # deleting before offset 0 deletes nothing


def test_a_commit_past_the_log_end_holds_its_partition_until_its_group_commits_anew() -> None:
    """noida-db killed before a save comes back with fewer records than were committed
    past, and hands those offsets out again: until the router commits again, its old
    commit names records it has not read."""
    untrusted = Untrusted()
    committed = {"recorder-router": {API0: 900, API1: 40}}
    # the broker came back with api-events/0 ending at 700
    held = untrusted.held(committed, {API0: 700, API1: 50})
    assert held == {API0}
    assert low_marks(committed, TOPICS, held) == {API1: 40}
    # new records pass offset 900 before the router, reading from 700, commits again
    assert untrusted.held(committed, {API0: 950, API1: 50}) == {API0}
    # its next commit is trusted again
    committed = {"recorder-router": {API0: 760, API1: 40}}
    assert untrusted.held(committed, {API0: 950, API1: 50}) == set()
    assert low_marks(committed, TOPICS, set()) == {API0: 760, API1: 40}


def test_any_group_past_the_end_holds_the_partition_and_other_topics_are_not_judged() -> None:
    untrusted = Untrusted()
    committed = {
        "recorder-router": {API0: 100},
        "recorder-insights": {API0: 300},  # past the end: insights would miss records
        "tool": {TopicPartition("trails", 0): 10**9},  # no end asked for: not judged
    }
    assert untrusted.held(committed, {API0: 200}) == {API0}
    assert untrusted.held({"recorder-router": {API0: 100}}, {API0: 200}) == set()


def test_the_margin_option_gives_the_stack_its_margin_and_a_negative_one_keeps_everything() -> None:
    ap = argparse.ArgumentParser()
    add_retention_margin_argument(ap, 600.0)
    assert ap.parse_args([]).retention_margin == 600.0
    assert ap.parse_args(["--retention-margin", "5"]).retention_margin == 5.0
    assert ap.parse_args(["--retention-margin", "-1"]).retention_margin is None
