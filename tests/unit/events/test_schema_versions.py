"""Schema evolution: every published ApiEvent schema stays readable, by fingerprint,
and a rolling upgrade dead-letters nothing, in either direction.

An upgrade runs old and new processes side by side: producers keep writing the
previous version (``RECORDER_EVENT_SCHEMA_VERSION``) until every router is new, so
an old router only ever sees what it knows, and a new router reads both.
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.stub import Stubber
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

import recorder
from recorder.events import EventDecodeError, decode, encode, render_record, validate_record
from recorder.events.schema import BY_VERSION, CURRENT, PUBLISHED, _shape
from recorder.producer.hooks import install
from recorder.producer.record import Identity
from recorder.settings import Settings, SettingsError
from tests.unit.events.guide import record_at, same
from tests.unit.events.reference import from_datum, to_datum
from tests.unit.producer.helpers import RenderingSink

REPO = Path(__file__).resolve().parents[3]
PACKAGE_SCHEMAS = Path(recorder.__file__).parent / "schemas" / "api_event"
ROTATE = 12021


def _record_108() -> dict[str, Any]:
    record = record_at(ROTATE)
    record["eventVersion"] = "1.08"
    record["vpcEndpointId"] = "vpce-0123456789abcdef0"
    record["tlsDetails"] = {
        "tlsVersion": "TLSv1.2",
        "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
        "clientProvidedHostHeader": "kms.us-east-1.amazonaws.com",
    }
    record["sessionCredentialFromConsole"] = "true"
    return render_record(record)


class OldRouter:
    """A reader that knows one published schema only, loaded from ``schemas/`` by
    fingerprint, as a router built before the next version would."""

    def __init__(self, version: int) -> None:
        path = next(
            p
            for p in (REPO / "schemas" / "api_event").iterdir()
            if json.loads(p.read_text())["version"] == version
        )
        self.schema_json = json.loads(path.read_text())
        self.parsed = parse_schema(self.schema_json)
        self.fingerprint = bytes.fromhex(path.stem)

    def decode(self, data: bytes) -> dict[str, Any]:
        if data[2:10] != self.fingerprint:
            raise EventDecodeError("unknown-schema", f"unknown fingerprint {data[2:10].hex()}")
        datum = schemaless_reader(BytesIO(data[10:]), self.parsed, None)
        return from_datum(datum, _shape(self.schema_json))


# -- the published contract ---------------------------------------------------------------


def test_top_level_schemas_is_the_package_data_so_the_two_cannot_diverge() -> None:
    assert (REPO / "schemas").resolve() == PACKAGE_SCHEMAS.parent.resolve()


def test_every_published_schema_is_filed_under_its_fingerprint() -> None:
    files = sorted((REPO / "schemas" / "api_event").glob("*.avsc"))
    assert len(files) == len(PUBLISHED) >= 2
    for path in files:
        parsed = parse_schema(json.loads(path.read_text()))
        assert path.stem == fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
    assert [p.version for p in PUBLISHED] == list(range(1, len(PUBLISHED) + 1))
    assert CURRENT is PUBLISHED[-1]


def _fields(schema: Any) -> dict[str, Any]:
    return {f["name"]: f for f in schema["fields"]}


@pytest.mark.parametrize("older", PUBLISHED[:-1], ids=lambda p: f"v{p.version}")
def test_each_version_only_adds_nullable_members_with_a_null_default(older: Any) -> None:
    newer = BY_VERSION[older.version + 1]
    old_fields, new_fields = _fields(older.schema_json), _fields(newer.schema_json)
    for name, field in old_fields.items():
        assert json.dumps(new_fields[name]["type"]) == json.dumps(field["type"]), name
    for name in new_fields.keys() - old_fields.keys():
        assert new_fields[name]["type"][0] == "null" and new_fields[name]["default"] is None


@pytest.mark.parametrize("older", PUBLISHED[:-1], ids=lambda p: f"v{p.version}")
def test_avro_resolves_each_version_against_the_next_both_ways(older: Any) -> None:
    """Compatible in Avro's own terms, so any Avro reader with either schema works."""
    newer = BY_VERSION[older.version + 1]
    record = _record_108()
    added = _fields(newer.schema_json).keys() - _fields(older.schema_json).keys()

    def resolve(writer: Any, reader: Any) -> dict[str, Any]:
        out = BytesIO()
        schemaless_writer(out, writer.parsed, to_datum(record, writer.shape))
        datum = schemaless_reader(BytesIO(out.getvalue()), writer.parsed, reader.parsed)
        return from_datum(datum, reader.shape)

    # old bytes, new reader: the added members come back from extra
    assert same(resolve(older, newer), record)
    # new bytes, a generic Avro reader with the old schema: everything but the added
    # members, which Avro resolution drops (recorder's own readers never do this: an
    # old router refuses the unknown fingerprint, and producers wait; see below)
    assert same(resolve(newer, older), {k: v for k, v in record.items() if k not in added})


# -- the rolling upgrade ---------------------------------------------------------------------


def test_producers_write_the_previous_version_until_the_setting_moves() -> None:
    assert Settings.from_env({}).event_schema_version == 1
    assert Settings.from_env({"RECORDER_EVENT_SCHEMA_VERSION": "2"}).event_schema_version == 2
    with pytest.raises(SettingsError, match="RECORDER_EVENT_SCHEMA_VERSION"):
        Settings.from_env({"RECORDER_EVENT_SCHEMA_VERSION": "9"})


def test_an_old_router_reads_what_producers_write_by_default_without_loss() -> None:
    record = _record_108()
    data = encode(record, Settings.from_env({}).event_schema_version)
    back = OldRouter(1).decode(data)  # the 1.08 members ride in v1's extra
    assert same(back, record)
    validate_record(back)
    assert orjson.dumps(render_record(back)) == orjson.dumps(record)


def test_a_new_router_reads_both_versions_into_the_same_record() -> None:
    record = _record_108()
    by_version = {p.version: decode(encode(record, p.version)) for p in PUBLISHED}
    for back in by_version.values():
        assert same(back, record)
        validate_record(back)
        assert orjson.dumps(render_record(back)) == orjson.dumps(record)
    older = record_at(ROTATE)  # a 1.0x record written by a pre-upgrade producer
    assert same(decode(encode(older, 1)), older)


def test_an_old_router_refuses_the_new_version_which_is_why_producers_wait() -> None:
    with pytest.raises(EventDecodeError) as caught:
        OldRouter(1).decode(encode(_record_108(), 2))
    assert caught.value.reason == "unknown-schema"


def test_encode_refuses_an_unpublished_version() -> None:
    with pytest.raises(ValueError, match="no published ApiEvent schema version 7"):
        encode(_record_108(), 7)


def test_the_hook_writes_the_configured_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    frames: dict[str, bytes] = {}
    for label, env in (("default", None), ("upgraded", "2")):
        if env is None:
            monkeypatch.delenv("RECORDER_EVENT_SCHEMA_VERSION", raising=False)
        else:
            monkeypatch.setenv("RECORDER_EVENT_SCHEMA_VERSION", env)
        client = boto3.client(
            "sqs",
            region_name="eu-west-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="x",
        )
        sink = RenderingSink()
        install(client, sink, identity=Identity(account_id="111122223333"))
        with Stubber(client) as stub:
            stub.add_response("list_queues", {"QueueUrls": []})
            client.list_queues()
        assert [r["eventName"] for r in sink.records()] == ["ListQueues"]
        frames[label] = sink.encoded[0][1]
    assert frames["default"][2:10] == BY_VERSION[1].fingerprint
    assert frames["upgraded"][2:10] == BY_VERSION[2].fingerprint
    for frame in frames.values():
        assert decode(frame)["eventVersion"] == "1.08"
