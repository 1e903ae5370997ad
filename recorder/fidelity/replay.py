"""Make the call a record AWS wrote describes, through the real hooked client.

For a record: find the botocore operation whose call the hook would record under the
record's ``eventSource`` and ``eventName`` (the conventions table read backwards),
turn its ``requestParameters`` into the operation's input and its
``responseElements`` (or ``errorCode``) into the answer botocore's ``Stubber`` gives,
make the call on a client with the hook installed, and return the record the hook
produced, after the same Avro round trip the router reads it through.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from recorder.events import decode
from recorder.events.conventions import is_read_only
from recorder.fidelity.inverse import placeholder, to_value
from recorder.producer import Identity, install
from recorder.producer.record import cloudtrail_names
from recorder.producer.shapes import style_for

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ACCOUNT = "123456789012"


@dataclass(frozen=True, slots=True)
class Target:
    service: str  # botocore service name
    operation: str


class NotReplayable(Exception):
    """The record describes no call a botocore client can make (console sign-in, git
    over HTTPS, a service's own event), or the call could not be built."""


@functools.cache
def _session() -> Any:
    return botocore.session.get_session()


@functools.cache
def _names(service: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(eventSource, eventName) the hook writes -> operations, for one service."""
    model = _session().get_service_model(service)
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for op in model.operation_names:
        key = cloudtrail_names(model, op)
        out[key] = (*out.get(key, ()), op)
    return out


def _likely(source: str) -> list[str]:
    """Services to try first: those named like the event source."""
    prefix = source.removesuffix(".amazonaws.com")
    squashed = prefix.replace("-", "")
    names = _session().get_available_services()
    first = [n for n in names if n in (prefix, squashed) or n.replace("-", "") == squashed]
    rest = [n for n in names if n not in first and (prefix in n or n in prefix)]
    return first + rest


@functools.cache
def _index() -> dict[tuple[str, str], tuple[Target, ...]]:
    """Every operation of every service botocore knows (loaded once, ~seconds)."""
    out: dict[tuple[str, str], tuple[Target, ...]] = {}
    for service in _session().get_available_services():
        for key, ops in _names(service).items():
            out[key] = (*out.get(key, ()), *(Target(service, op) for op in ops))
    return out


def candidates(record: Mapping[str, Any]) -> tuple[Target, ...]:
    """The operations whose calls the hook records under the record's eventSource and
    eventName; failing that, an operation of that name in a service named like the
    source (the record is then replayed to show how the names differ)."""
    key = (str(record.get("eventSource")), str(record.get("eventName")))
    found: list[Target] = []
    for service in _likely(key[0]):
        found += [Target(service, op) for op in _names(service).get(key, ())]
    if not found:
        found = list(_index().get(key, ()))
    if not found:
        bare = re.sub(r"20\d{6}(v\d+)?$", "", key[1])
        model_names = (key[1], bare, key[1][:1].upper() + key[1][1:])
        for service in _likely(key[0]):
            ops = _session().get_service_model(service).operation_names
            found += [Target(service, op) for op in model_names if op in ops]
    if not found:
        raise NotReplayable(f"no botocore operation is recorded as {key[0]} {key[1]}")
    return tuple(dict.fromkeys(found))


def locate(record: Mapping[str, Any]) -> Target:
    """The candidate whose input the record's requestParameters fit best."""
    found = candidates(record)
    if len(found) == 1:
        return found[0]
    request = record.get("requestParameters")
    keys = set(request) if isinstance(request, Mapping) else set()

    def fit(t: Target) -> tuple[int, int, str]:
        model = _session().get_service_model(t.service)
        shape = model.operation_model(t.operation).input_shape
        members = {m.lower() for m in (shape.members if shape is not None else {})}
        required = {m.lower() for m in (shape.required_members if shape is not None else ())}
        given = {k.lower() for k in keys}
        if "bucketname" in given:
            given.add("bucket")  # S3's bucketName
        # the most members the record names, the fewest required ones it lacks, then
        # the newer API (kinesisanalyticsv2 over kinesisanalytics)
        return sum(k in members for k in given), -len(required - given), model.api_version

    return max(found, key=fit)


class _Sink:
    """Renders each capture on the spot, as the sink's thread would, and keeps the
    record as the router decodes it."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def defer(self, installation: Any, capture: Any) -> None:
        _, value = installation.render(capture)
        self.records.append(decode(value))


@dataclass
class _Client:
    client: Any
    sink: _Sink
    methods: dict[str, str]


@functools.cache
def _client(service: str, region: str, account: str) -> _Client:
    client = _session().create_client(
        service,
        region_name=region,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    sink = _Sink()
    identity = Identity(account_id=account, access_key_id="AKIAIOSFODNN7EXAMPLE")
    install(client, sink, identity=identity, schema_version=max_schema_version())
    methods = {api: py for py, api in client.meta.method_to_api_mapping.items()}
    return _Client(client, sink, methods)


def max_schema_version() -> int:
    from recorder.events.schema import CURRENT

    return CURRENT.version


def _region(record: Mapping[str, Any]) -> str:
    region = record.get("awsRegion")
    return region if isinstance(region, str) and _REGION.fullmatch(region) else "us-east-1"


def _account(record: Mapping[str, Any]) -> str:
    for value in (
        record.get("recipientAccountId"),
        (record.get("userIdentity") or {}).get("accountId"),
    ):
        if isinstance(value, str) and value.isdigit() and len(value) == 12:
            return value
    return _ACCOUNT


def replay(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record the hook writes for the call ``record`` describes."""
    target = locate(record)
    c = _client(target.service, _region(record), _account(record))
    model = c.client.meta.service_model.operation_model(target.operation)
    request = record.get("requestParameters")
    service_model = c.client.meta.service_model
    source, name = cloudtrail_names(service_model, target.operation)
    style = style_for(source, name, service_model.protocol)
    params = (
        to_value(request or {}, model.input_shape, style=style)
        if model.input_shape is not None
        else {}
    )
    method = c.methods[target.operation]
    with Stubber(c.client) as stub:
        try:
            read_only = is_read_only(source, name)
            _answer(stub, method, model, record, replace(style, request=False), read_only)
        except Exception as exc:
            raise NotReplayable(f"{target.service}.{target.operation}: answer: {exc}") from exc
        before = len(c.sink.records)
        try:
            getattr(c.client, method)(**params)
        except ClientError:
            if not record.get("errorCode"):
                raise
        except Exception as exc:
            raise NotReplayable(f"{target.service}.{target.operation}: {exc}") from exc
    produced = c.sink.records[before:]
    if len(produced) != 1:
        raise NotReplayable(f"{target.service}.{target.operation}: the hook wrote {len(produced)}")
    return produced[0]


def _answer(
    stub: Stubber, method: str, model: Any, record: Mapping[str, Any], style: Any, read_only: bool
) -> None:
    error = record.get("errorCode")
    request_id = record.get("requestID")
    meta = {"RequestId": request_id} if isinstance(request_id, str) else {}
    if error:
        stub.add_client_error(
            method,
            service_error_code=str(error),
            service_message=str(record.get("errorMessage") or ""),
            http_status_code=400,
            response_meta=meta,
        )
        return
    response = record.get("responseElements")
    shape = model.output_shape
    if shape is None:
        stub.add_response(method, {})
        return
    members = shape.members
    if style.unwrapped and isinstance(response, Mapping) and len(members) == 1:
        response = {next(iter(members)): response}  # the result's one structure, unwrapped
    answer = to_value(response or {}, shape, request=False, style=style)
    if response is None and read_only:
        # A record that keeps no response (a read) says nothing of the answer; the
        # service answered with its members, so each scalar one gets a placeholder
        # (KMS Decrypt's KeyId names the key the record lists as its resource).
        for name, member in shape.members.items():
            if member.type_name in ("string", "integer", "long", "boolean"):
                answer.setdefault(name, placeholder(member, name=name))
    if meta:
        answer["ResponseMetadata"] = meta
    stub.add_response(method, answer)
