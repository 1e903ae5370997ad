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


def _record_type(avro_type: Any) -> Any:
    """The record inside ``["null", {record}]`` (or an array of records), else None."""
    if isinstance(avro_type, list):
        (avro_type,) = (t for t in avro_type if t != "null")
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        avro_type = avro_type["items"]
    return avro_type if isinstance(avro_type, dict) and avro_type.get("type") == "record" else None


def _only_adds(old: Any, new: Any, path: str) -> None:
    """At every level, ``new`` keeps each member of ``old`` with its type, and whatever
    it adds is nullable with a null default (a nested record such as userIdentity may
    grow members too: Avro resolves records by member name at any depth)."""
    old_fields, new_fields = _fields(old), _fields(new)
    for name, field in old_fields.items():
        assert name in new_fields, path + name
        old_record, new_record = _record_type(field["type"]), _record_type(new_fields[name]["type"])
        if old_record is None:
            assert json.dumps(new_fields[name]["type"]) == json.dumps(field["type"]), path + name
            continue
        assert new_record is not None and new_record["name"] == old_record["name"], path + name
        _only_adds(old_record, new_record, f"{path}{name}.")
    for name in new_fields.keys() - old_fields.keys():
        added = new_fields[name]
        assert added["type"][0] == "null" and added["default"] is None, path + name


@pytest.mark.parametrize("older", PUBLISHED[:-1], ids=lambda p: f"v{p.version}")
def test_each_version_only_adds_nullable_members_with_a_null_default(older: Any) -> None:
    _only_adds(older.schema_json, BY_VERSION[older.version + 1].schema_json, "")


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


def _record_111() -> dict[str, Any]:
    """A network activity event as AWS's guide shows one (eventVersion 1.09: the caller
    in another account, ``vpcEndpointAccountId``), with the 1.09-1.11 identity members."""
    record = _record_108()
    record["eventVersion"] = "1.11"
    record["vpcEndpointId"] = "vpce-0123456789abcdef0"
    record["vpcEndpointAccountId"] = "123456789012"
    record["userIdentity"]["invokedByDelegate"] = {"accountId": "444455556666"}
    record["userIdentity"]["inScopeOf"] = {
        "issuerType": "AWS::Lambda::Function",
        "credentialsIssuedTo": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "credentialsIssuedToVersion": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
    }
    return record


def test_version_3_names_the_1_09_to_1_11_members_and_version_2_carries_them_in_extra() -> None:
    record = _record_111()
    assert same(decode(encode(record, 3)), record)
    assert same(decode(encode(record, 2)), record)
    v3 = BY_VERSION[3]
    datum = schemaless_reader(BytesIO(encode(record, 3)[10:]), v3.parsed, None)
    assert datum["vpcEndpointAccountId"] == "123456789012"
    assert datum["userIdentity"]["invokedByDelegate"] == {
        "accountId": "444455556666",
        "extra": None,
    }
    scope = datum["userIdentity"]["inScopeOf"]
    assert scope["issuerType"] == "AWS::Lambda::Function"
    # a member AWS added after this schema rides in that level's extra
    assert json.loads(scope["extra"]) == {
        "credentialsIssuedToVersion": record["userIdentity"]["inScopeOf"][
            "credentialsIssuedToVersion"
        ]
    }
    v2 = BY_VERSION[2]
    old = schemaless_reader(BytesIO(encode(record, 2)[10:]), v2.parsed, None)
    assert "vpcEndpointAccountId" in json.loads(old["extra"])
    assert {"invokedByDelegate", "inScopeOf"} <= json.loads(old["userIdentity"]["extra"]).keys()
