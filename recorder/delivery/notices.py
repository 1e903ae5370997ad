"""SNS notices and delivery manifests: what follows a log file once it is in S3.

A notice goes to the trail's topic through a client of the topic's own region (a
topic in another region than the writer's works). A notice that cannot be published
never holds the log file back: the file is in S3 already, the notice is parked and
retried on its own. The manifest on ``delivered`` is internal (the digester's input)
and is retried until the broker takes it.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from botocore.exceptions import BotoCoreError, ClientError

from recorder.delivery.logfile import LogFile
from recorder.delivery.regional import RegionalClients, arn_region
from recorder.delivery.target import DeliveryTarget
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.retry import OWN_BROKER, Failure, classify, retry_async
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.writer")


class DeliveryFailed(Exception):
    """An S3 put or SNS publish failed after botocore's own retries, or the writer's
    grant check refused it (:mod:`recorder.delivery.grants`)."""

    def __init__(self, failure: Failure, detail: str | None = None) -> None:
        super().__init__(detail or failure.code)
        self.failure = failure
        #: What GetTrailStatus shows: the error code, or the code and what is missing.
        self.status = detail or failure.code


#: ``arn:aws:sns:<region>:<account>:<name>`` -> region.
topic_region = arn_region


def notice_message(bucket: str, key: str) -> str:
    """The notice body the guide documents: the bucket and the new object's key."""
    return orjson.dumps({"s3Bucket": bucket, "s3ObjectKey": [key]}).decode()


class Notifier:
    """Publishes notices through the writer's regional clients (the topic's region)."""

    def __init__(self, settings: Settings, metrics: Metrics, clients: RegionalClients) -> None:
        self._settings = settings
        self._metrics = metrics
        self._clients = clients

    async def publish(self, topic_arn: str, bucket: str, key: str) -> None:
        client = await self._clients.get("sns", topic_region(topic_arn, self._settings.aws_region))
        try:
            await client.publish(TopicArn=topic_arn, Message=notice_message(bucket, key))
        except (ClientError, BotoCoreError, OSError, TimeoutError) as exc:
            failure = classify(exc)
            self._metrics.writer_sns_errors.labels(failure.code).inc()
            raise DeliveryFailed(failure) from exc


def manifest(
    dest: Destination,
    target: DeliveryTarget,
    key: str,
    log_file: LogFile,
    cut_time: str,
    cut_reason: str,
) -> bytes:
    """The record of one delivered file on ``delivered`` (the digester's input); the
    destination in its four-field form names the digest chain (Insights files too)."""
    return orjson.dumps(
        {
            **dest.to_json(),
            "bucket": target.bucket,
            "key": key,
            "sha256": log_file.sha256,
            "oldestEventTime": log_file.oldest_event_time,
            "newestEventTime": log_file.newest_event_time,
            "deliveryTime": cut_time,
            "cutReason": cut_reason,
            "recordCount": log_file.record_count,
        }
    )


async def send_until_taken(
    producer: AIOKafkaProducer, topic: str, value: bytes, *, what: str, **kwargs: Any
) -> Any:
    """Our own broker is not a tenant's destination: wait for it (capped backoff)."""

    def retrying(exc: BaseException, delay: float) -> None:
        log.warning(f"{what}_failed_retrying", error=repr(exc), retry_in=round(delay, 2))

    return await retry_async(
        lambda: producer.send_and_wait(topic, value, **kwargs), OWN_BROKER, on_retry=retrying
    )
