"""The control API service: aiohttp app, request pipeline, and ``create`` for ``recorder run api``.

One request: read the body, verify SigV4 (who, which region), resolve the
operation from ``X-Amz-Target``, validate the input against botocore's model, run
the handler, shape the output. Every failure becomes a CloudTrail error body;
anything unexpected is a logged, counted ``InternalFailure`` (500), never a crash.
Every authenticated call is then recorded to ``api-events``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from botocore.model import OperationModel
from prometheus_client import Counter, Histogram

from recorder.api.audit import AuditLog, Outcome
from recorder.api.auth import CredentialStore, Principal, verify
from recorder.api.checks import AwsResourceChecks
from recorder.api.config import ApiConfig
from recorder.api.data_plane import AuditEventsIngest
from recorder.api.limits import READ, WRITE, RateLimiter
from recorder.api.operations import READ_ONLY, Caller, Operations
from recorder.api.protocol import (
    CONTENT_TYPE,
    DATA_CONTENT_TYPE,
    DATA_SERVICE_NAME,
    SERVICE_NAME,
    ApiError,
    data_operation,
    decode_input,
    encode_output,
    error_body,
    parse_target,
)
from recorder.api.sources import NoPublicKeys, NoStatus, PublicKeySource, StatusSource
from recorder.api.store import RegistryStore
from recorder.aws.arn import partition_for
from recorder.kafka import clients
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.settings import Settings
from recorder.trails import trail_arn

log = get_logger("recorder.api")

MAX_BODY = 1024 * 1024
#: The ``outcome`` label of recorder_api_audit_events_total (api.audit).
AUDIT_OUTCOMES = ("sent", "encode_failed", "send_failed")
#: Seconds between repairs of stale trail records and removals of retired trails.
MAINTAIN_EVERY = 30.0
#: Request bodies larger than this are parsed and validated in a worker thread, so a
#: list of 100,000 names never holds the event loop (other callers' requests).
DECODE_IN_THREAD_BYTES = 64 * 1024


@dataclass
class ApiMetrics:
    """The control API's metric families, on the process's registry."""

    requests: Counter
    latency: Histogram
    audit: Counter
    ingested: Counter

    @classmethod
    def on(cls, metrics: Metrics) -> ApiMetrics:
        r = metrics.registry
        made = cls(
            requests=Counter(
                "recorder_api_requests_total",
                "Control-API requests by operation, outcome (OK or the error code) and HTTP status",
                ["operation", "code", "status"],
                registry=r,
            ),
            latency=Histogram(
                "recorder_api_request_seconds",
                "Control-API request latency",
                ["operation"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=r,
            ),
            audit=Counter(
                "recorder_api_audit_events_total",
                "Records of control-API calls sent to api-events, by outcome",
                ["outcome"],
                registry=r,
            ),
            ingested=Counter(
                "recorder_api_audit_events_ingested_total",
                "PutAuditEvents' events by outcome: successful, or the failed entry's errorCode",
                ["outcome"],
                registry=r,
            ),
        )
        # at 0: an alert takes increase() of the failures (a call not recorded)
        for outcome in AUDIT_OUTCOMES:
            made.audit.labels(outcome=outcome)
        return made


@dataclass
class Api:
    """The request pipeline, independent of where trails are stored (tests give a store)."""

    operations: Operations
    credentials: CredentialStore
    metrics: ApiMetrics
    audit: AuditLog | None = None
    clock: Any = field(default=None)  # () -> datetime, for tests of clock skew
    limiter: RateLimiter | None = None
    max_body: int = MAX_BODY
    #: The partition whose regions are served (None: every partition's).
    partition: str | None = None
    #: CloudTrail Data's PutAuditEvents (None: not served).
    ingest: AuditEventsIngest | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        event_time = dt.datetime.now(dt.UTC)
        operation: OperationModel | None = None
        principal: Principal | None = None
        region = ""
        params: dict[str, Any] = {}
        result: dict[str, Any] | None = None
        error: ApiError | None = None
        payload = b""
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(
                    "ValidationException",
                    f"Request body larger than {self.max_body} bytes",
                    status=413,
                ) from None
            if request.method != "POST":
                raise ApiError("UnknownOperationException", "Only POST requests are supported")
            data_op = data_operation(request.path) if self.ingest is not None else None
            now = self.clock() if self.clock else None
            verified = verify(
                self.credentials,
                method=request.method,
                path_qs=request.raw_path,
                headers=list(request.headers.items()),
                body=body,
                now=now,
                service=DATA_SERVICE_NAME if data_op is not None else SERVICE_NAME,
                partition=self.partition,
            )
            principal, region = verified.principal, verified.region
            structlog.contextvars.bind_contextvars(account_id=principal.account_id, region=region)
            operation = data_op or parse_target(request.headers.get("X-Amz-Target"))
            authorize(principal, operation.name, region, operation.service_model.signing_name)
            if self.limiter is not None:
                kind = READ if operation.name in READ_ONLY else WRITE
                self.limiter.check(principal.account_id, region, kind, time.monotonic())
            query = dict(request.query)
            if len(body) > DECODE_IN_THREAD_BYTES:  # botocore's validation: ~6 µs a value
                params = await asyncio.to_thread(decode_input, operation, body, query)
            else:
                params = decode_input(operation, body, query)
            caller = Caller(principal, region, request_id)
            if data_op is not None and self.ingest is not None:
                result = await self.ingest.put_audit_events(caller, params, len(body))
            else:
                result = await self.operations.dispatch(operation.name, caller, params)
            payload = encode_output(operation, result)
            log.info(
                "api_call",
                operation=operation.name,
                trail=_trail_of(params, result),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        except ApiError as exc:
            error = exc
        except Exception as exc:
            log.exception("api_internal_failure", operation=getattr(operation, "name", None))
            error = ApiError("InternalFailure", f"Internal failure: {type(exc).__name__}", 500)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "account_id", "region")
        name = operation.name if operation is not None else "unknown"
        if error is None:
            response = web.Response(body=payload, status=200)
        else:
            response = web.Response(body=error_body(error.code, error.message), status=error.status)
            log.info(
                "api_call_failed",
                operation=name,
                request_id=request_id,
                account_id=principal.account_id if principal else None,
                code=error.code,
                message=error.message,
                trail=_trail_of(params, None),
            )
        if operation is not None and operation.service_model.protocol == "rest-json":
            response.content_type = DATA_CONTENT_TYPE
            if error is not None:  # how REST-JSON clients read the code first
                response.headers["x-amzn-ErrorType"] = error.code
        else:
            response.content_type = CONTENT_TYPE
        response.headers["x-amzn-RequestId"] = request_id
        self.metrics.requests.labels(
            operation=name, code=error.code if error else "OK", status=str(response.status)
        ).inc()
        self.metrics.latency.labels(operation=name).observe(time.perf_counter() - started)
        if self.audit is not None and principal is not None and operation is not None:
            self.audit.record(
                Outcome(
                    operation=operation,
                    principal=principal,
                    region=region,
                    request_id=request_id,
                    params=params,
                    result=result,
                    error_code=error.code if error else None,
                    error_message=error.message if error else None,
                    status=error.status if error else 200,
                    event_time=event_time,
                    source_ip=request.remote or "127.0.0.1",
                    user_agent=request.headers.get("User-Agent"),
                )
            )
        return response


def authorize(
    principal: Principal, operation: str, region: str, service: str = "cloudtrail"
) -> None:
    """AccessDeniedException unless the principal's allow-list names the action."""
    if not principal.allows(operation, service):
        raise ApiError(
            "AccessDeniedException",
            f"User: {principal.identity_arn} is not authorized to perform: "
            f"{service}:{operation} on resource: {trail_arn(region, principal.account_id, '*')} "
            "because no identity-based policy allows "
            f"the {service}:{operation} action",
        )


def _trail_of(params: dict[str, Any], result: dict[str, Any] | None) -> str | None:
    if result and isinstance(result.get("TrailARN"), str):
        return str(result["TrailARN"])
    for key in ("Name", "TrailName", "ResourceId"):
        if isinstance(params.get(key), str):
            return str(params[key])
    return None


class ApiService:
    """``recorder run api``: the Api over the process's registry, on ``host:api_port``."""

    def __init__(
        self,
        settings: Settings,
        registry: Any,
        metrics: Metrics,
        *,
        config: ApiConfig | None = None,
        status: StatusSource | None = None,
        public_keys: PublicKeySource | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.config = config or ApiConfig.from_env()
        self.credentials = self.config.credentials()
        self.api_metrics = ApiMetrics.on(metrics)
        self.status = status or NoStatus()
        self.public_keys = public_keys or NoPublicKeys()
        self.ready = asyncio.Event()
        self.port = settings.api_port

    async def _maintain(self, store: RegistryStore) -> None:
        """Repairs and the retired trails' removal (RegistryStore.maintain); a failure
        is logged and tried again next time, never the API's end."""
        try:
            await store.maintain(dt.datetime.now(dt.UTC), self.settings.parking_period)
        except Exception as exc:
            log.warning("api_maintenance_failed", error=repr(exc))

    async def run(self, stop: asyncio.Event) -> None:
        producer = clients.producer(self.settings, linger_ms=0)
        await producer.start()
        checks = AwsResourceChecks(self.settings)
        runner: web.AppRunner | None = None
        audit = AuditLog(self.settings, producer, self.api_metrics.audit)
        try:
            store = RegistryStore(
                self.settings,
                self.registry,
                producer,
                lease_ms=int(self.config.lease_seconds * 1000),
            )
            ingest = AuditEventsIngest(store, audit.send_now, self.api_metrics.ingested)
            operations = Operations(
                store=store,
                checks=checks,
                status=self.status,
                public_keys=self.public_keys,
                list_page_size=self.config.list_page_size,
                ingestion=ingest.status,
            )
            api = Api(
                operations,
                self.credentials,
                self.api_metrics,
                audit,
                limiter=self.config.rate_limiter(),
                max_body=self.config.max_body_bytes,
                partition=partition_for(self.settings.aws_region),
                ingest=ingest,
            )
            runner = web.AppRunner(api.app(), access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, self.config.host, self.port, reuse_address=True)
            await site.start()
            log.info(
                "api_listening",
                host=self.config.host,
                port=self.port,
                credentials=len(self.credentials),
            )
            self.ready.set()
            while not stop.is_set():
                await self._maintain(store)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), MAINTAIN_EVERY)
        finally:
            self.ready.clear()
            if runner is not None:
                await runner.cleanup()
            await audit.drain()
            with contextlib.suppress(Exception):
                await checks.close()
            with contextlib.suppress(Exception):
                await producer.stop()


def create(
    settings: Settings,
    registry: Any,
    metrics: Metrics,
    *,
    status: StatusSource | None = None,
    public_keys: PublicKeySource | None = None,
) -> ApiService:
    """Entry point for ``recorder run api`` (see recorder.services.command).

    ``status`` (e.g. ``DeliveryStatusSource(writer.status)``) and ``public_keys`` fill
    GetTrailStatus's delivery fields and ListPublicKeys; both default to empty."""
    return ApiService(settings, registry, metrics, status=status, public_keys=public_keys)
