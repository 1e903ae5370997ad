"""The control API records itself: every authenticated call becomes an ``api-events``
event, like any other AWS call (eventSource ``cloudtrail.amazonaws.com``).

The record is built by the producer's record builder (the same userIdentity,
requestParameters/responseElements and readOnly rules as every SDK call), encoded
with :func:`recorder.events.encode` and produced keyed by the caller's account.
Recording must never fail or slow the call it records: the produce runs in the
background, and a failure is logged and counted, never raised.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel
from prometheus_client import Counter

from recorder.api.auth import Principal
from recorder.obs.logging import get_logger
from recorder.producer.record import Call, Identity, build_record
from recorder.provenance.signature import Signer
from recorder.settings import Settings

log = get_logger("recorder.api.audit")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call did, as the record needs it."""

    operation: OperationModel
    principal: Principal
    region: str
    request_id: str
    params: Mapping[str, Any]
    result: Mapping[str, Any] | None
    error_code: str | None
    error_message: str | None
    status: int
    event_time: dt.datetime
    source_ip: str
    user_agent: str | None


def build(outcome: Outcome) -> dict[str, Any]:
    """The CloudTrail record of one control-API call."""

    if outcome.error_code is not None:
        parsed: dict[str, Any] = {
            "Error": {"Code": outcome.error_code, "Message": outcome.error_message or ""}
        }
    else:
        parsed = dict(outcome.result or {})
    parsed["ResponseMetadata"] = {"RequestId": outcome.request_id}
    model = outcome.operation.service_model
    call = Call(
        service_prefix=model.endpoint_prefix,  # cloudtrail, cloudtrail-data
        operation=outcome.operation.name,
        region=outcome.region,
        params=outcome.params,
        input_shape=outcome.operation.input_shape,
        output_shape=outcome.operation.output_shape,
        parsed=parsed,
        status_code=outcome.status,
        event_time=outcome.event_time,
        user_agent=outcome.user_agent,
        source_ip=outcome.source_ip,
        # the same conventions as any hooked call to CloudTrail's own API
        service=model.service_name,
        signing_name=model.signing_name,
        protocol=model.protocol,
        target_prefix=model.metadata.get("targetPrefix"),
        api_version=model.api_version,
    )
    return build_record(call, identity_of(outcome.principal))


def identity_of(p: Principal) -> Identity:
    """``userIdentity`` of a credential-file key: the IAM identity it names (user name,
    ARN, principal id), so the API's own records name the user as the hook's records
    of the same key do (STS GetCallerIdentity), not by its access key."""
    arn = p.identity_arn
    if ":assumed-role/" in arn:
        return Identity(
            account_id=p.account_id,
            access_key_id=p.access_key_id,
            type="AssumedRole",
            arn=arn,
            principal_id=p.principal_id,
        )
    return Identity(
        account_id=p.account_id,
        access_key_id=p.access_key_id,
        arn=arn,
        user_name=arn.rsplit("/", 1)[-1] if p.arn else p.user_name,
        principal_id=p.principal_id,
    )


class AuditLog:
    """Sends records of control-API calls to ``api-events`` without ever blocking them."""

    def __init__(self, settings: Settings, producer: Any, counter: Counter) -> None:
        self._topic = settings.topics.api_events
        self._signer = Signer(settings.producer_key())
        self._producer = producer
        self._counter = counter
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, outcome: Outcome) -> None:
        try:
            from recorder.events import encode

            record = build(outcome)
            value = encode(record)
        except Exception as exc:  # a bad record must not fail the call it describes
            self._counter.labels(outcome="encode_failed").inc()
            log.error(
                "api_audit_encode_failed",
                operation=outcome.operation.name,
                request_id=outcome.request_id,
                error=repr(exc),
            )
            return
        task = asyncio.create_task(self._send(outcome.principal.account_id, value, record))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def send_now(self, account_id: str, value: bytes, record: Mapping[str, Any]) -> None:
        """Send one encoded record (``record`` decoded) keyed by ``account_id``, signed
        with the API's producer key, and wait for the broker: the one way the API sends
        records, its own and PutAuditEvents' (which answers only for what Kafka holds)."""
        key = account_id.encode()
        await asyncio.wait_for(
            self._producer.send_and_wait(
                self._topic, value, key=key, headers=self._signer.headers(key, value)
            ),
            30,
        )

    async def _send(self, account_id: str, value: bytes, record: Mapping[str, Any]) -> None:
        try:
            await self.send_now(account_id, value, record)
            self._counter.labels(outcome="sent").inc()
        except Exception as exc:
            self._counter.labels(outcome="send_failed").inc()
            log.warning(
                "api_audit_send_failed",
                event_id=record.get("eventID"),
                event_name=record.get("eventName"),
                error=repr(exc),
            )

    async def drain(self, within: float = 5.0) -> None:
        """Give records still in flight a bounded time at shutdown."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=within)
