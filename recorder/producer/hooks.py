"""Install recorder on a boto3/botocore (or aioboto3/aiobotocore) session or client.

Three botocore event hooks per call: ``before-parameter-build`` keeps the caller's
parameters and the time, ``before-call`` notes the user agent, endpoint and the
credentials that sign the request, ``after-call`` adds the response and hands the
capture to the sink. That is all the caller's thread does: building the record
(identity, shapes, masking, size limit) and encoding it happen on the sink's thread,
so the hook adds a few microseconds to an API call, not the record's cost.
aiobotocore emits the same events with the same arguments, so the same handlers
serve async clients. Any failure inside a hook is logged and counted, never raised
into the caller's API call.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from recorder.events import encode
from recorder.obs.logging import get_logger
from recorder.producer.awaiting import Pending, placeholder, stamp, with_identity
from recorder.producer.identity import (
    Credentials,
    IdentityResolver,
    LookupResolver,
    StaticIdentity,
)
from recorder.producer.network import network_activity_record, vpc_endpoint_id
from recorder.producer.record import Call, Identity, build_record
from recorder.producer.scope import LambdaScope
from recorder.settings import Settings

log = get_logger("recorder.producer")

_CTX = "recorder"
_UID = "recorder-producer"


class Capture:
    """What the caller's thread takes of one call; rendered later on the sink's thread."""

    __slots__ = (
        "credentials",
        "model",
        "params",
        "parsed",
        "region",
        "shared_event_id",
        "signature_version",
        "status",
        "time",
        "url",
        "user_agent",
    )

    def __init__(self, params: Mapping[str, Any], now: float) -> None:
        self.params = params
        self.time = now
        self.user_agent: Any = None
        self.url: str = ""
        self.credentials: Credentials | None = None
        self.model: Any = None
        self.parsed: Any = None
        self.status = 200
        self.region: str | None = None
        self.signature_version: str | None = None  # the signer's (S3 records name it)
        # the caller's and the endpoint owner's records of a call through a VPC
        # endpoint share one; drawn by whichever of the two is rendered first
        self.shared_event_id: str | None = None


@dataclass
class Installation:
    sink: Any
    resolver: IdentityResolver
    bucket_owners: Mapping[str, str] = field(default_factory=dict)
    # VPC endpoint id -> the account that owns it (else: the caller's own endpoint)
    vpc_endpoint_owners: Mapping[str, str] = field(default_factory=dict)
    # the Lambda function this process runs as (userIdentity.inScopeOf), if any
    scope: LambdaScope | None = None
    source_ip: str = "127.0.0.1"
    errors: int = 0
    on_record: Callable[[dict[str, Any]], None] | None = None
    schema_version: int = 1  # the ApiEvent schema to write: Settings.event_schema_version
    _emitters: list[Any] = field(default_factory=list)
    _network: NetworkActivity | None = None

    @property
    def network(self) -> NetworkActivity:
        if self._network is None:
            self._network = NetworkActivity(self)
        return self._network

    # -- hooks: the caller's thread ------------------------------------------------------
    def _before_parameter_build(
        self, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        context[_CTX] = Capture(dict(params), time.time())

    def _before_call(
        self,
        params: Mapping[str, Any],
        context: dict[str, Any],
        request_signer: Any = None,
        **_: Any,
    ) -> None:
        capture = context.get(_CTX)
        if capture is None:
            return
        try:
            creds = _note_request(capture, params, request_signer)
            if creds is not None:
                capture.credentials = _credentials(creds.get_frozen_credentials())
        except Exception:
            self.errors += 1
            log.exception("producer_hook_failed", hook="before-call")

    async def _before_call_async(
        self,
        params: Mapping[str, Any],
        context: dict[str, Any],
        request_signer: Any = None,
        **_: Any,
    ) -> None:
        """aiobotocore's ``before-call``: its credentials are frozen with an ``await``."""
        capture = context.get(_CTX)
        if capture is None:
            return
        try:
            creds = _note_request(capture, params, request_signer)
            if creds is not None:
                capture.credentials = _credentials(await creds.get_frozen_credentials())
        except Exception:
            self.errors += 1
            log.exception("producer_hook_failed", hook="before-call")

    def _after_call(
        self,
        http_response: Any,
        parsed: Mapping[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        capture = context.pop(_CTX, None)
        if capture is None:
            return
        try:
            capture.model = model
            # A shallow copy: the caller owns ``parsed`` once the call returns.
            capture.parsed = dict(parsed) if isinstance(parsed, Mapping) else {}
            capture.status = getattr(http_response, "status_code", 200)
            capture.region = context.get("client_region")
            self.sink.defer(self, capture)
            if "vpce-" in capture.url:  # cheap here; the endpoint is parsed on render
                self.sink.defer(self.network, capture)
        except Exception:
            self.errors += 1
            log.exception("producer_hook_failed", hook="after-call")

    # -- the sink's thread ---------------------------------------------------------------
    def identity_of(self, capture: Capture) -> Identity | None:
        """Who made the call, if known now (the resolver never blocks)."""
        return self.resolver.resolve(capture.credentials, capture.region)

    def render(self, capture: Capture, identity: Identity | None = None) -> tuple[bytes, bytes]:
        """Build, mask and encode the record of ``capture``: (Kafka key, value). Without
        ``identity``, the resolver's answer now (LookupError when it has none yet)."""
        if identity is None:
            identity = self.identity_of(capture)
            if identity is None:
                raise LookupError("the caller's identity is not known yet")
        record = self.record(capture, identity)
        if identity.type == "Unknown":  # known by its key only: no ARN or name made up
            record["userIdentity"] = with_identity(record["userIdentity"], identity)
        if self.on_record is not None:
            self.on_record(record)
        return record["recipientAccountId"].encode(), encode(record, self.schema_version)

    def prerender(self, capture: Capture) -> Pending:
        """The record of a call whose caller is not known yet: built now (nothing of the
        caller's is kept), with a placeholder account to be stamped by :func:`finish`."""
        account = placeholder()
        creds = capture.credentials
        if creds is None:
            raise LookupError("the call was not signed: no credentials to resolve")
        record = self.record(capture, Identity(account_id=account, access_key_id=creds.access_key))
        return Pending(
            record,
            account,
            creds.fingerprint(),
            creds.access_key,
            capture.region,
            self.schema_version,
            capture.time,
            self,
        )

    def record(self, capture: Capture, identity: Identity) -> dict[str, Any]:
        model = capture.model
        service = model.service_model
        ua = capture.user_agent
        url = urlsplit(capture.url) if capture.url else None
        bucket = capture.params.get("Bucket")
        vpce = vpc_endpoint_id(url.hostname if url else None)
        if vpce is not None and capture.shared_event_id is None:
            capture.shared_event_id = str(uuid.uuid4())
        call = Call(
            service_prefix=service.endpoint_prefix,
            operation=model.name,
            region=capture.region or "us-east-1",
            params=capture.params,
            input_shape=model.input_shape,
            output_shape=model.output_shape,
            parsed=capture.parsed,
            status_code=int(capture.status),
            event_time=dt.datetime.fromtimestamp(capture.time, dt.UTC),
            user_agent=ua.decode() if isinstance(ua, bytes) else ua,
            source_ip=self.source_ip,
            host=url.hostname if url else None,
            api_version=service.api_version,
            tls=url is not None and url.scheme == "https",
            vpc_endpoint_id=vpce,
            vpc_endpoint_account_id=self.vpc_endpoint_owners.get(vpce) if vpce else None,
            shared_event_id=capture.shared_event_id,
            in_scope_of=(
                self.scope.in_scope_of(
                    capture.credentials.access_key if capture.credentials else None,
                    identity.account_id,
                )
                if self.scope is not None
                else None
            ),
            service=service.service_name,
            signing_name=service.signing_name,
            protocol=service.protocol,
            target_prefix=service.metadata.get("targetPrefix"),
            request_uri=model.http.get("requestUri"),
            signature_version=capture.signature_version or service.signature_version,
        )
        return build_record(call, identity, bucket_owner=self.bucket_owners.get(str(bucket)))

    # -- wiring --------------------------------------------------------------------------
    def attach(self, emitter: Any) -> None:
        emitter.register(
            "before-parameter-build.*.*", self._before_parameter_build, unique_id=f"{_UID}-params"
        )
        before_call = self._before_call_async if _is_aio(emitter) else self._before_call
        emitter.register("before-call.*.*", before_call, unique_id=f"{_UID}-call")
        emitter.register("after-call.*.*", self._after_call, unique_id=f"{_UID}-after")
        self._emitters.append(emitter)

    def uninstall(self) -> None:
        for emitter in self._emitters:
            emitter.unregister("before-parameter-build.*.*", unique_id=f"{_UID}-params")
            emitter.unregister("before-call.*.*", unique_id=f"{_UID}-call")
            emitter.unregister("after-call.*.*", unique_id=f"{_UID}-after")
        self._emitters.clear()


class NetworkActivity:
    """Renders the network activity event of a call through a VPC endpoint: the
    endpoint owner's record, queued on the sink beside the caller's (the sink renders
    anything with ``render`` and counts failures in ``errors``)."""

    def __init__(self, installation: Installation) -> None:
        self.installation = installation

    @property
    def errors(self) -> int:
        return self.installation.errors

    @errors.setter
    def errors(self, value: int) -> None:
        self.installation.errors = value

    @property
    def resolver(self) -> IdentityResolver:
        return self.installation.resolver

    def identity_of(self, capture: Capture) -> Identity | None:
        return self.installation.identity_of(capture)

    def render(self, capture: Capture, identity: Identity | None = None) -> tuple[bytes, bytes]:
        inst = self.installation
        if identity is None:
            identity = inst.identity_of(capture)
            if identity is None:
                raise LookupError("the caller's identity is not known yet")
        api = inst.record(capture, identity)
        if "vpcEndpointId" not in api:  # "vpce-" in the URL, but not an endpoint's name
            raise ValueError(f"not a VPC endpoint: {urlsplit(capture.url).hostname}")
        if identity.type == "Unknown":
            api["userIdentity"] = with_identity(api["userIdentity"], identity)
        record = network_activity_record(api, str(uuid.uuid4()))
        if inst.on_record is not None:
            inst.on_record(record)
        return record["recipientAccountId"].encode(), encode(record, inst.schema_version)

    def prerender(self, capture: Capture) -> Pending:
        """The caller's record, waiting; the endpoint owner's is derived from it by
        :func:`finish` once the caller is known."""
        pending = self.installation.prerender(capture)
        if "vpcEndpointId" not in pending.record:
            raise ValueError(f"not a VPC endpoint: {urlsplit(capture.url).hostname}")
        pending.derive, pending.event_id = "network", str(uuid.uuid4())
        return pending


def finish(pending: Pending, identity: Identity) -> tuple[bytes, bytes]:
    """A waiting record with its caller's identity, encoded: (Kafka key, value)."""
    record = stamp(pending.record, pending.placeholder, identity)
    if pending.derive == "network":
        record = network_activity_record(record, str(pending.event_id))
    installation = pending.installation
    if installation is not None and installation.on_record is not None:
        installation.on_record(record)
    return record["recipientAccountId"].encode(), encode(record, pending.schema_version)


def _note_request(capture: Capture, params: Mapping[str, Any], request_signer: Any) -> Any:
    """What ``before-call`` adds to the capture (user agent, URL); returns the signer's
    credentials object, whose freezing is sync in botocore and async in aiobotocore."""
    headers = params.get("headers") or {}
    capture.user_agent = headers.get("User-Agent")
    capture.url = params.get("url") or ""
    capture.signature_version = getattr(request_signer, "signature_version", None)
    return getattr(request_signer, "_credentials", None)


def _credentials(frozen: Any) -> Credentials:
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


def install(
    target: Any,
    sink: Any,
    *,
    identity: Identity | None = None,
    resolver: IdentityResolver | None = None,
    bucket_owners: Mapping[str, str] | None = None,
    vpc_endpoint_owners: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    schema_version: int | None = None,
) -> Installation:
    """Record every API call made with ``target``: a boto3/botocore/aioboto3/aiobotocore
    session or client.

    Whose calls they are must be said: a fixed ``identity``, or a ``resolver`` that
    derives it from the signing credentials (``CallerIdentityResolver`` asks STS; any
    ``(credentials) -> Identity`` callable is run the same way, off the sink's thread,
    once per credential set).
    Without either, events would be attributed to no one in particular, so it is an
    error. Clients created from a session after ``install`` inherit the hooks; a client
    created before must be installed on directly. ``schema_version``: the ApiEvent
    schema to write; None takes ``RECORDER_EVENT_SCHEMA_VERSION``. A call made through a
    VPC endpoint (its endpoint URL names one) is recorded twice: for the caller, and as a
    network activity event for the endpoint's owner, ``vpc_endpoint_owners[id]`` or,
    when not named there, the caller's own account.
    """
    if (identity is None) == (resolver is None):
        raise TypeError(
            "install() needs exactly one of identity= (a fixed Identity) or resolver= "
            "(for example CallerIdentityResolver(), which asks STS whose credentials sign "
            "each call)"
        )
    if not callable(getattr(sink, "defer", None)):
        raise TypeError(
            f"{type(sink).__name__} is not a sink: it has no defer(installation, capture)"
        )
    if schema_version is None:
        schema_version = Settings.from_env().event_schema_version
    inst = Installation(
        sink=sink,
        resolver=_resolver(resolver) if resolver is not None else StaticIdentity(identity),  # type: ignore[arg-type]
        bucket_owners=dict(bucket_owners or {}),
        vpc_endpoint_owners=dict(vpc_endpoint_owners or {}),
        scope=LambdaScope.from_environ(os.environ),
        source_ip=source_ip,
        schema_version=schema_version,
    )
    inst.attach(_emitter_of(target))
    return inst


def _resolver(given: Any) -> IdentityResolver:
    """A resolver, or a plain ``(credentials) -> Identity`` function made into one."""
    if callable(getattr(given, "resolve", None)):
        return given  # type: ignore[no-any-return]
    if not callable(given):
        raise TypeError(f"resolver= must be a resolver or a function, not {type(given).__name__}")
    return LookupResolver(lambda credentials, region: given(credentials))


def _is_aio(emitter: Any) -> bool:
    """An aiobotocore emitter (it awaits handlers that are coroutine functions)."""
    inner = getattr(emitter, "_emitter", emitter)  # botocore's EventAliaser wraps it
    return type(inner).__module__.startswith("aiobotocore")


def _emitter_of(target: Any) -> Any:
    meta = getattr(target, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events  # a client (botocore or aiobotocore)
    events = getattr(target, "events", None)
    if events is not None and hasattr(events, "register"):
        return events  # boto3.Session / aioboto3.Session
    get_component = getattr(target, "get_component", None)
    if get_component is not None:
        return get_component("event_emitter")  # botocore / aiobotocore Session
    raise TypeError(f"cannot install recorder on {type(target).__name__}: not a session or client")
