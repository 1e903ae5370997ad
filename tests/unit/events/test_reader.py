"""The compiled reader against fastavro's: the same record, the same typedness, for every
published version, on generated records and on damaged bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.events import EventDecodeError, decode_typed, encode
from recorder.events.codec import HEADER_SIZE
from recorder.events.reader import Truncated, compile_reader, reader_for
from recorder.events.schema import PUBLISHED, STRING, Published, Shape, _shape
from recorder.events.writer import writer_for
from tests.unit.events.reference import fastavro_decode
from tests.unit.events.test_properties import api_events, json_values, text

versions = st.sampled_from(PUBLISHED)
any_objects = st.tuples(
    st.fixed_dictionaries({"eventVersion": text, "eventTime": text, "awsRegion": text}),
    st.dictionaries(text, json_values, max_size=8),
).map(lambda pair: pair[1] | pair[0])


@settings(max_examples=300)
@given(st.one_of(api_events, any_objects), versions)
def test_the_reader_gives_fastavros_record_for_every_version(
    record: dict[str, Any], published: Published
) -> None:
    data = encode(record, published.version)
    record_back, typed = decode_typed(data)
    expected, expected_typed = fastavro_decode(data, published)
    assert record_back == expected
    assert list(record_back) == list(expected)  # log-file order, nested levels too
    assert typed is expected_typed


@settings(max_examples=300)
@given(api_events, versions, st.data())
def test_damaged_bytes_never_decode_to_what_fastavro_refuses(
    record: dict[str, Any], published: Published, data: st.DataObject
) -> None:
    good = encode(record, published.version)
    at = data.draw(st.integers(HEADER_SIZE, len(good) - 1))
    bad = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255))]) + good[at + 1 :]
    try:
        got = decode_typed(bad)
    except EventDecodeError:
        return  # stricter than fastavro is allowed (it takes union index -1 as the last)
    assert got == fastavro_decode(bad, published)


ITEMS = {
    "type": "record",
    "name": "Item",
    "fields": [
        {"name": "ARN", "type": ["null", "string"]},
        {"name": "extra", "type": ["null", "string"], "default": None},
    ],
}
LISTS = {
    "type": "record",
    "name": "Lists",
    "fields": [
        {"name": "eventVersion", "type": "string"},
        {"name": "resources", "type": ["null", {"type": "array", "items": ITEMS}]},
        {"name": "readOnly", "type": ["null", "boolean"]},
        {"name": "extra", "type": ["null", "string"], "default": None},
    ],
}


def _string(value: bytes) -> bytes:
    return bytes([len(value) * 2]) + value


def test_an_array_written_in_sized_blocks_reads_as_one_list() -> None:
    """Avro lets a writer give a block's count negated and then its size in bytes
    (fastavro never does, other writers may)."""
    read = compile_reader(LISTS, _shape(LISTS))
    item_a = b"\x02" + _string(b"arn:a") + b"\x00"
    item_b = b"\x02" + _string(b"arn:b") + b"\x00"
    sized_block = b"\x01" + bytes([len(item_a) * 2]) + item_a  # count -1 (zig-zag 1), size
    data = (
        _string(b"1.05")
        + b"\x02"  # resources present
        + sized_block
        + b"\x02"  # a plain block of one
        + item_b
        + b"\x00"  # end of the array
        + b"\x02\x01"  # readOnly present, true
        + b"\x00"  # no extra
    )
    record, end = read(data, 0, [])
    assert end == len(data)
    assert record == {
        "eventVersion": "1.05",
        "resources": [{"ARN": "arn:a"}, {"ARN": "arn:b"}],
        "readOnly": True,
    }


def test_errors_name_the_member_where_the_bytes_go_wrong() -> None:
    read = compile_reader(LISTS, _shape(LISTS))
    with pytest.raises(EventDecodeError) as bad_union:
        read(_string(b"1.05") + b"\x04", 0, [])
    assert str(bad_union.value) == (
        "corrupt body: IndexError: union index 2 at resources (the union has 2 branches)"
    )
    with pytest.raises(EventDecodeError) as bad_item:
        read(_string(b"1.05") + b"\x02\x02\x02\x03", 0, [])
    assert str(bad_item.value) == "corrupt body: negative length -2 at resources[0].ARN"
    with pytest.raises(EventDecodeError) as bad_text:
        read(_string(b"\xff\xfe"), 0, [])
    assert str(bad_text.value).startswith(
        "corrupt body: UnicodeDecodeError: eventVersion is not UTF-8 ("
    )
    with pytest.raises(Truncated):
        read(b"\x0a1.0", 0, [])
    with pytest.raises(IndexError):  # the codec reports both as a truncated body
        read(_string(b"1.05") + b"\x02", 0, [])


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda p: f"v{p.version}")
def test_every_published_version_has_a_generated_reader_and_writer(published: Published) -> None:
    assert callable(reader_for(published.fingerprint))
    assert callable(writer_for(published.version))


def test_a_schema_with_a_type_the_generator_does_not_know_is_refused() -> None:
    counted = {
        "type": "record",
        "name": "Counted",
        "fields": [{"name": "eventVersion", "type": "string"}, {"name": "n", "type": "long"}],
    }
    shape = Shape("Counted", (("eventVersion", STRING),), {"eventVersion": STRING}, ())
    with pytest.raises(ValueError, match="ApiEvent schema: no reader for n: 'long'"):
        compile_reader(counted, shape)


def test_anything_else_bad_bytes_trip_is_still_a_corrupt_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The router dead-letters EventDecodeError and moves on; any other exception from
    the reader would stop its partition instead."""
    from recorder.events import codec

    def trips(data: bytes, pos: int, extras: list[str]) -> tuple[dict[str, Any], int]:
        raise OverflowError("Python int too large to convert to C ssize_t")

    monkeypatch.setattr(codec, "reader_for", lambda fingerprint: trips)
    with pytest.raises(EventDecodeError) as error:
        decode_typed(encode({"eventVersion": "1.05", "eventTime": "t", "awsRegion": "r"}))
    assert error.value.reason == "corrupt"
    assert str(error.value) == (
        "corrupt body: OverflowError: Python int too large to convert to C ssize_t"
    )
