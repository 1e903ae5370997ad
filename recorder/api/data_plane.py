"""``PutAuditEvents`` served: a call's events checked, signed and sent to ``api-events``.

The events become records of the caller's account (:mod:`recorder.api.ingest`), each
checked by the same rules the router applies to every record (the guide's rules and
what routing needs, :func:`recorder.provenance.admission.admit_record`), so an event
this call answers as ``successful`` is one the router will take, and sent keyed by
that account and signed with the control API's own producer key (an operator-trusted
producer: the router still checks its signature like any other's). The answer waits
for the broker's acknowledgement of every record: ``successful`` means on Kafka, from
where it is routed, delivered and digested like any other; a send that fails is that
event's ``InternalFailure``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from recorder.api import ingest
from recorder.api.channels import resolve
from recorder.api.protocol import ApiError
from recorder.api.store import TrailStore
from recorder.aws.arn import arn_or_none
from recorder.aws.times import format_seconds
from recorder.events import InvalidEventError, encode
from recorder.obs.logging import get_logger
from recorder.provenance.admission import admit_record

log = get_logger("recorder.api.data_plane")

#: Sends one encoded record (and the record it encodes) keyed by its account; raises
#: on failure (``AuditLog.send_now``).
Send = Callable[[str, bytes, Mapping[str, Any]], Awaitable[None]]


@dataclass
class AuditEventsIngest:
    store: TrailStore
    send: Send
    #: recorder_api_audit_events_ingested_total{outcome} (None: not counted).
    counter: Counter | None = None
    #: Per channel ARN, GetChannel's IngestionStatus (this replica's calls).
    status: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def put_audit_events(
        self, caller: Any, params: Mapping[str, Any], body_bytes: int
    ) -> dict[str, Any]:
        events = params["auditEvents"]
        ingest.check_call(events, body_bytes)
        channel = self._channel(caller, params["channelArn"])
        now = dt.datetime.now(dt.UTC)
        results: list[ingest.Accepted | ingest.Failed] = []
        encoded: list[tuple[int, bytes, dict[str, Any]]] = []
        for event in events:
            result = ingest.to_record(
                event,
                account_id=caller.account_id,
                region=caller.region,
                channel_arn=channel,
                event_id=str(uuid.uuid4()),
                now=now,
            )
            if isinstance(result, ingest.Accepted):
                try:
                    admit_record(result.record)
                    value = encode(result.record)
                except InvalidEventError as exc:
                    result = ingest.Failed(result.id, "InvalidData", str(exc)[:1024])
                else:
                    encoded.append((len(results), value, result.record))
            results.append(result)
        sent = await asyncio.gather(
            *(self.send(caller.account_id, value, record) for _, value, record in encoded),
            return_exceptions=True,
        )
        for (i, _, _), outcome in zip(encoded, sent, strict=True):
            if isinstance(outcome, BaseException):
                log.warning(
                    "audit_event_send_failed",
                    channel_arn=channel,
                    event_id=results[i].event_id,  # type: ignore[union-attr]
                    error=repr(outcome),
                )
                results[i] = ingest.Failed(
                    results[i].id, "InternalFailure", "The event could not be stored; try again."
                )
        self._note(channel, results, now)
        if self.counter is not None:
            for r in results:
                self.counter.labels(
                    outcome="successful" if isinstance(r, ingest.Accepted) else r.code
                ).inc()
        answer = ingest.answer(results)
        log.info(
            "audit_events_put",
            channel_arn=channel,
            successful=len(answer["successful"]),
            failed=len(answer["failed"]),
            event_ids=[s["eventID"] for s in answer["successful"]][:10],
        )
        return answer

    def _channel(self, caller: Any, given: str) -> str:
        """The channel's ARN: ``InvalidChannelARN``, ``ChannelInsufficientPermission``
        (another account's channel) or ``ChannelNotFound`` otherwise."""
        arn = arn_or_none(given)
        if arn is not None and arn.account and arn.account != caller.account_id:
            raise ApiError(
                "ChannelInsufficientPermission",
                f"The caller's account {caller.account_id} does not own channel {given[:256]}.",
            )
        try:
            found = resolve(self.store, caller, given)
        except ApiError as exc:
            if exc.code == "ChannelARNInvalidException":
                raise ApiError("InvalidChannelARN", exc.message) from None
            raise ApiError("ChannelNotFound", exc.message) from None
        return str(found["ChannelArn"])

    def _note(
        self, channel: str, results: list[ingest.Accepted | ingest.Failed], now: dt.datetime
    ) -> None:
        status = self.status.setdefault(channel, {})
        if not results:
            return
        last = results[-1]
        status["LatestIngestionAttemptTime"] = format_seconds(now)
        ok = [r for r in results if isinstance(r, ingest.Accepted)]
        if ok:
            status["LatestIngestionSuccessTime"] = format_seconds(now)
            status["LatestIngestionSuccessEventID"] = ok[-1].event_id
        if isinstance(last, ingest.Accepted):
            status["LatestIngestionAttemptEventID"] = last.event_id
        bad = [r for r in results if isinstance(r, ingest.Failed)]
        if bad:
            status["LatestIngestionErrorCode"] = bad[-1].code
