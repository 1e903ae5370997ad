"""recorder's topics: one definition for the local stack and for a real cluster.

``recorder topics`` creates what is missing on the cluster the settings point at and
checks what exists: a compacted topic that is not compacted would lose the trail
registry, the digest chains or the status; fewer partitions than configured leave
static members without work.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from recorder.retry import Backoff, retry_async
from recorder.settings import Settings, kafka_security_kwargs

COMPACT = {"cleanup.policy": "compact"}
#: routed-retry's message size limit: a parked batch (8 MiB by default) and its header.
PARKED_MESSAGE_BYTES = 16 * 1024 * 1024


def topic_specs(settings: Settings, replication_factor: int = 1) -> list[NewTopic]:
    t = settings.topics
    n = settings.partitions
    rf = replication_factor
    # With replicas, an acknowledged write (acks=all) must be on two of them before it
    # counts: one broker lost cannot take acknowledged events with it.
    durable = {"min.insync.replicas": str(min(2, rf))} if rf > 1 else {}
    return [
        NewTopic(t.api_events, n, rf, topic_configs=dict(durable)),
        NewTopic(t.routed, n, rf, topic_configs=dict(durable)),
        NewTopic(t.delivered, n, rf, topic_configs=dict(durable)),
        # Key = trail ARN; the latest value per trail is the registry's state. The
        # brokers stamp its records (LogAppendTime): the API's write leases run on one
        # clock, whatever the replicas' clocks say.
        NewTopic(
            t.trails,
            1,
            rf,
            topic_configs={**COMPACT, **durable, "message.timestamp.type": "LogAppendTime"},
        ),
        NewTopic(t.dlq, 1, rf, topic_configs=dict(durable)),
        # Key = destination; partition = the routed partition the batch came from.
        # Batches of a failing destination, parked until it works again: one record
        # holds a whole batch (up to RECORDER_BATCH_MAX_BYTES), above Kafka's 1 MB
        # default message size.
        NewTopic(
            t.routed_retry,
            n,
            rf,
            topic_configs={**durable, "max.message.bytes": str(PARKED_MESSAGE_BYTES)},
        ),
        # Key = digest chain; the latest value is where the chain stands.
        NewTopic(t.digest_state, 1, rf, topic_configs={**COMPACT, **durable}),
        # Key = source|trail ARN|instance; GetTrailStatus's delivery and digest fields.
        NewTopic(t.trail_status, 1, rf, topic_configs={**COMPACT, **durable}),
        # Key = api-events partition and series; the Insights detector's state, one
        # record per series; partition p of api-events keeps it in partition p here.
        NewTopic(t.insights_state, n, rf, topic_configs={**COMPACT, **durable}),
        # Key = routed partition; the latest value is the aggregation stage's windows.
        NewTopic(t.aggregation_state, 1, rf, topic_configs={**COMPACT, **durable}),
    ]


@dataclass(frozen=True, slots=True)
class TopicCheck:
    name: str
    created: bool
    partitions: int | None
    problems: tuple[str, ...] = ()


def check_topic(spec: NewTopic, partitions: int | None, configs: dict[str, str]) -> list[str]:
    """What is wrong with an existing topic, as an operator should read it."""
    problems = []
    if partitions is not None and partitions < spec.num_partitions:
        problems.append(
            f"{spec.name}: {partitions} partitions, settings expect {spec.num_partitions}"
        )
    wanted = (spec.topic_configs or {}).get("cleanup.policy")
    have = configs.get("cleanup.policy")
    if wanted == "compact" and have is not None and "compact" not in have:
        problems.append(f"{spec.name}: cleanup.policy={have}, must be compact")
    return problems


async def _admin(settings: Settings, wait: float) -> AIOKafkaAdminClient:
    async def connect() -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            request_timeout_ms=5000,
            **kafka_security_kwargs(settings),
        )
        try:
            await admin.start()
            await admin.list_topics()
        except BaseException:
            await admin.close()
            raise
        return admin

    try:  # a broker starting with us: a fifth of a second at first, at most a second
        return await retry_async(connect, Backoff(base=0.2, cap=1.0, give_up_after=wait))
    except (KafkaError, OSError) as exc:
        raise TimeoutError(f"broker {settings.bootstrap_servers} not ready: {exc!r}") from exc


async def ensure_topics(
    settings: Settings, wait: float = 30.0, replication_factor: int = 1
) -> list[TopicCheck]:
    """Wait for the broker to answer metadata, create missing topics, check the rest."""
    admin = await _admin(settings, wait)
    try:
        specs = topic_specs(settings, replication_factor)
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        present = [s for s in specs if s.name in existing]
        partitions: dict[str, int] = {}
        configs: dict[str, dict[str, str]] = {}
        if present:
            for meta in await admin.describe_topics([s.name for s in present]):
                partitions[meta["topic"]] = len(meta.get("partitions", []))
            with contextlib.suppress(KafkaError):
                resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in present]
                for response in await admin.describe_configs(resources):
                    for _, _, _, name, entries in response.resources:
                        configs[name] = {e[0]: e[1] for e in entries if e[1] is not None}
        return [
            TopicCheck(
                s.name,
                s.name not in existing,
                partitions.get(s.name, s.num_partitions),
                tuple(check_topic(s, partitions.get(s.name), configs.get(s.name, {}))),
            )
            for s in specs
        ]
    finally:
        await admin.close()
