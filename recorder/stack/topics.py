"""Create recorder's topics; the same on the local stack and on a real Kafka cluster."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from recorder.settings import Settings, kafka_security_kwargs


def topic_specs(settings: Settings) -> list[NewTopic]:
    t = settings.topics
    n = settings.partitions
    return [
        NewTopic(t.api_events, n, 1),
        NewTopic(t.routed, n, 1),
        NewTopic(t.delivered, n, 1),
        # Key = trail ARN; the latest value per trail is the registry's state.
        NewTopic(t.trails, 1, 1, topic_configs={"cleanup.policy": "compact"}),
        NewTopic(t.dlq, 1, 1),
        # Key = digest chain; the latest value is where the chain stands.
        NewTopic(t.digest_state, 1, 1, topic_configs={"cleanup.policy": "compact"}),
        # Key = source|trail ARN|instance; GetTrailStatus's delivery and digest fields.
        NewTopic(t.trail_status, 1, 1, topic_configs={"cleanup.policy": "compact"}),
    ]


async def ensure_topics(settings: Settings, wait: float = 30.0) -> list[str]:
    """Wait for the broker to answer metadata, then create missing topics."""
    deadline = time.monotonic() + wait
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            request_timeout_ms=5000,
            **kafka_security_kwargs(settings),
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [s for s in topic_specs(settings) if s.name not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
            return sorted(existing | {s.name for s in missing})
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
    raise TimeoutError(f"broker {settings.bootstrap_servers} not ready: {last!r}")
