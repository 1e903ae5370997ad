"""Install recorder on a boto3/botocore session or client via botocore's event hooks.

Three hooks per call: ``before-parameter-build`` keeps the caller's parameters,
``before-call`` notes the user agent, endpoint and credentials, ``after-call`` builds
the record and hands it to the sink. Any failure inside a hook is logged and
counted, never raised into the caller's API call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from recorder.events import encode
from recorder.obs.logging import get_logger
from recorder.producer.record import Call, Identity, build_record
from recorder.settings import Settings

log = get_logger("recorder.producer")

_CTX = "recorder"
_UID = "recorder-producer"


class Sink:
    """What the hooks need of a sink (``KafkaEventSink`` or a test's list)."""

    def emit(self, key: bytes, value: bytes) -> None:  # pragma: no cover - protocol
        raise NotImplementedError


@dataclass
class Installation:
    sink: Any
    identity: Identity | None
    bucket_owners: Mapping[str, str] = field(default_factory=dict)
    source_ip: str = "127.0.0.1"
    errors: int = 0
    on_record: Callable[[dict[str, Any]], None] | None = None
    schema_version: int = 1  # the ApiEvent schema to write: Settings.event_schema_version
    _emitters: list[Any] = field(default_factory=list)

    # -- hooks ---------------------------------------------------------------------
    def _before_parameter_build(
        self, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        context[_CTX] = {"params": dict(params), "time": dt.datetime.now(dt.UTC)}

    def _before_call(
        self,
        params: Mapping[str, Any],
        context: dict[str, Any],
        request_signer: Any = None,
        **_: Any,
    ) -> None:
        state = context.get(_CTX)
        if state is None:
            return
        headers = params.get("headers", {}) or {}
        ua = headers.get("User-Agent")
        state["user_agent"] = ua.decode() if isinstance(ua, bytes) else ua
        state["host"] = urlsplit(str(params.get("url", ""))).hostname
        creds = getattr(request_signer, "_credentials", None)
        if creds is not None:
            state["access_key"] = getattr(creds, "access_key", None)

    def _after_call(
        self,
        http_response: Any,
        parsed: Mapping[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        state = context.pop(_CTX, None)
        if state is None:
            return
        try:
            service = model.service_model
            identity = self.identity or Identity(
                account_id="123456789012", access_key_id=state.get("access_key")
            )
            bucket = state["params"].get("Bucket")
            call = Call(
                service_prefix=service.endpoint_prefix,
                operation=model.name,
                region=context.get("client_region") or "us-east-1",
                params=state["params"],
                input_shape=model.input_shape,
                output_shape=model.output_shape,
                parsed=parsed,
                status_code=int(getattr(http_response, "status_code", 200)),
                event_time=state["time"],
                user_agent=state.get("user_agent"),
                source_ip=self.source_ip,
                host=state.get("host"),
                api_version=service.api_version,
            )
            record = build_record(call, identity, bucket_owner=self.bucket_owners.get(str(bucket)))
            if self.on_record is not None:
                self.on_record(record)
            self.sink.emit(
                record["recipientAccountId"].encode(), encode(record, self.schema_version)
            )
        except Exception:
            self.errors += 1
            log.exception("producer_hook_failed", operation=getattr(model, "name", "?"))

    # -- wiring --------------------------------------------------------------------
    def attach(self, emitter: Any) -> None:
        emitter.register(
            "before-parameter-build.*.*", self._before_parameter_build, unique_id=f"{_UID}-params"
        )
        emitter.register("before-call.*.*", self._before_call, unique_id=f"{_UID}-call")
        emitter.register("after-call.*.*", self._after_call, unique_id=f"{_UID}-after")
        self._emitters.append(emitter)

    def uninstall(self) -> None:
        for emitter in self._emitters:
            emitter.unregister("before-parameter-build.*.*", unique_id=f"{_UID}-params")
            emitter.unregister("before-call.*.*", unique_id=f"{_UID}-call")
            emitter.unregister("after-call.*.*", unique_id=f"{_UID}-after")
        self._emitters.clear()


def install(
    target: Any,
    sink: Any,
    *,
    identity: Identity | None = None,
    bucket_owners: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    schema_version: int | None = None,
) -> Installation:
    """Record every API call made with ``target`` (boto3/botocore session or client).

    Clients created from a session after ``install`` inherit the hooks; a client
    created before must be installed on directly. ``schema_version``: the ApiEvent
    schema to write; None takes ``RECORDER_EVENT_SCHEMA_VERSION``.
    """
    if schema_version is None:
        schema_version = Settings.from_env().event_schema_version
    inst = Installation(
        sink=sink,
        identity=identity,
        bucket_owners=dict(bucket_owners or {}),
        source_ip=source_ip,
        schema_version=schema_version,
    )
    inst.attach(_emitter_of(target))
    return inst


def _emitter_of(target: Any) -> Any:
    meta = getattr(target, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events  # a client
    events = getattr(target, "events", None)
    if events is not None and hasattr(events, "register"):
        return events  # boto3.Session
    get_component = getattr(target, "get_component", None)
    if get_component is not None:
        return get_component("event_emitter")  # botocore Session
    raise TypeError(f"cannot install recorder on {type(target).__name__}: not a session or client")
