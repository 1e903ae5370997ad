"""CloudTrail's two time spellings: seconds (eventTime, digests, status) and
milliseconds (the control API's trail document times)."""

from __future__ import annotations

import datetime as dt

import pytest

from recorder.aws.times import (
    epoch_ms,
    epoch_second,
    format_millis,
    format_seconds,
    from_epoch_ms,
    from_epoch_seconds,
    parse_seconds,
    parse_time,
)

MOMENT = dt.datetime(2024, 1, 1, 0, 0, 0, 123_456, tzinfo=dt.UTC)
MOMENT_MS = 1_704_067_200_123


def test_format_event_time_is_utc_to_the_second() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    assert format_seconds(dt.datetime(2019, 6, 19, 2, 18, 31, 999_999, tzinfo=paris)) == (
        "2019-06-19T00:18:31Z"
    )
    assert format_seconds(dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "0999-01-02T03:04:05Z"


def test_format_event_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive datetime 2019-06-19T00:18:31"):
        format_seconds(dt.datetime(2019, 6, 19, 0, 18, 31))
    with pytest.raises(ValueError, match="naive datetime"):
        format_millis(dt.datetime(2019, 6, 19, 0, 18, 31))


def test_parse_event_time_is_the_inverse() -> None:
    moment = dt.datetime(2019, 6, 19, 0, 18, 31, tzinfo=dt.UTC)
    assert parse_seconds("2019-06-19T00:18:31Z") == moment
    assert parse_seconds(format_seconds(moment)) == moment
    with pytest.raises(ValueError, match="is not YYYY-MM-DDTHH:MM:SSZ"):
        parse_seconds("2019-6-19T00:18:31Z")
    with pytest.raises(ValueError, match="day is out of range"):
        parse_seconds("2019-02-30T00:18:31Z")


def test_seconds_form_takes_no_fraction() -> None:
    """An eventTime is whole seconds; the millisecond form is not one."""
    with pytest.raises(ValueError, match=r"'2024-01-01T00:00:00.000Z' is not YYYY-MM-DDTHH:MM:SSZ"):
        parse_seconds("2024-01-01T00:00:00.000Z")


def test_both_forms_round_trip() -> None:
    assert format_seconds(MOMENT) == "2024-01-01T00:00:00Z"
    assert format_millis(MOMENT) == "2024-01-01T00:00:00.123Z"
    assert parse_time("2024-01-01T00:00:00Z") == MOMENT.replace(microsecond=0)
    assert parse_time("2024-01-01T00:00:00.123Z") == MOMENT.replace(microsecond=123_000)
    assert format_millis(parse_time(format_millis(MOMENT))) == "2024-01-01T00:00:00.123Z"
    assert format_seconds(parse_time(format_seconds(MOMENT))) == "2024-01-01T00:00:00Z"


def test_epoch_milliseconds_and_seconds() -> None:
    assert from_epoch_ms(MOMENT_MS) == MOMENT.replace(microsecond=123_000)
    assert format_millis(from_epoch_ms(MOMENT_MS)) == "2024-01-01T00:00:00.123Z"
    assert format_millis(from_epoch_ms(0)) == "1970-01-01T00:00:00.000Z"
    assert epoch_ms("2024-01-01T00:00:00.123Z") == MOMENT_MS
    assert epoch_ms("2024-01-01T00:00:00Z") == MOMENT_MS - 123
    assert epoch_ms("2024-01-01T00:00:00.1Z") == MOMENT_MS - 23  # .1 is 100 ms
    assert epoch_ms("2024-01-01T00:00:00.123999Z") == MOMENT_MS  # cut, not rounded
    assert epoch_second("2024-01-01T00:00:00.999Z") == MOMENT_MS // 1000
    assert format_seconds(from_epoch_seconds(1_704_067_200)) == "2024-01-01T00:00:00Z"
    assert from_epoch_seconds(1_704_067_200.5).tzinfo is dt.UTC


@pytest.mark.parametrize(
    "text", ["2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z", ""]
)
def test_either_form_or_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not YYYY-MM-DDTHH:MM:SS\[\.fff\]Z"):
        epoch_ms(text)


def test_a_non_string_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="None is not YYYY-MM-DDTHH:MM:SSZ"):
        parse_seconds(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"None is not YYYY-MM-DDTHH:MM:SS\[\.fff\]Z"):
        parse_time(None)  # type: ignore[arg-type]
