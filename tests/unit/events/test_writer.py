"""The compiled writer against fastavro's: the same bytes for every published version,
and the same refusals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.events import InvalidEventError, encode
from recorder.events.schema import PUBLISHED, Published
from tests.unit.events.reference import fastavro_encode
from tests.unit.events.test_properties import api_events, json_values, text

versions = st.sampled_from(PUBLISHED)
#: Named members with values of any JSON type: typed where they fit, ``extra`` where not.
any_typed = st.tuples(
    st.fixed_dictionaries({"eventVersion": text, "eventTime": text, "awsRegion": text}),
    st.dictionaries(
        st.sampled_from(["userIdentity", "readOnly", "resources", "requestParameters"]) | text,
        json_values,
        max_size=8,
    ),
).map(lambda pair: pair[1] | pair[0])


@settings(max_examples=400)
@given(st.one_of(api_events, any_typed), versions)
def test_the_writer_writes_fastavros_bytes_for_every_version(
    record: dict[str, Any], published: Published
) -> None:
    assert encode(record, published.version) == fastavro_encode(record, published)


def test_long_strings_and_lists_take_multi_byte_lengths() -> None:
    record = {
        "eventVersion": "1.08",
        "eventTime": "2026-12-06T00:00:00Z",
        "awsRegion": "us-east-1",
        "userAgent": "é" * 5000,  # 10,000 bytes: a three-byte length
        "resources": [{"ARN": f"arn:aws:s3:::b/{i}"} for i in range(100)],  # count 100
    }
    for published in PUBLISHED:
        assert encode(record, published.version) == fastavro_encode(record, published)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"eventTime": "t", "awsRegion": "r"},
            "eventVersion: the wire schema needs a string (absent)",
        ),
        (
            {"eventVersion": 1.05, "eventTime": "t", "awsRegion": "r"},
            "eventVersion: the wire schema needs a string (got 1.05)",
        ),
        (
            {"eventVersion": "1.05", "eventTime": "t", "awsRegion": "r", "userAgent": "\ud800"},
            "record: a string is not valid Unicode (surrogates not allowed)",
        ),
        (
            {"eventVersion": "1.05", "eventTime": "t", "awsRegion": "r", "x": {1, 2}},
            "extra: not JSON-serialisable: Type is not JSON serializable: set",
        ),
        (
            {
                "eventVersion": "1.05",
                "eventTime": "t",
                "awsRegion": "r",
                "userIdentity": {"sessionContext": {"webIdFederationData": {b"k": 1}}},
            },
            "userIdentity.sessionContext.webIdFederationData: not JSON-serialisable: "
            "Dict key must be str",
        ),
    ],
)
def test_what_cannot_be_carried_is_refused_with_the_member_named(
    record: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEventError) as refused:
        encode(record)
    assert str(refused.value) == message
    with pytest.raises(InvalidEventError) as reference:
        fastavro_encode(record, PUBLISHED[-1])
    assert str(reference.value) == message
