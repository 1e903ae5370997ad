"""The embedded local stack: a Kafka-compatible broker plus moto, on loopback.

``LocalStack`` is what ``recorder stack up`` runs and what the integration tests'
fixtures start: one place, so a test runs against exactly what a user runs.

``strict=True`` puts :mod:`recorder.stack.strict` in front of moto: recorder's
processes then sign with a key of their own, which the proxy knows as the delivery
principal (``delivery_principal``: the CloudTrail service, or a role ARN as on AWS),
and S3, SNS and KMS refuse what the resources' policies do not allow, as AWS does.
Every request is recorded (:meth:`LocalStack.wire`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from recorder.kafka.topics import ensure_topics
from recorder.policies.principal import CLOUDTRAIL_SERVICE
from recorder.provenance.keys import ProducerKey, producers_document
from recorder.settings import STACK_STATE, Settings
from recorder.stack.processes import (
    ServerProcess,
    StackError,
    free_port,
    moto_server,
    noida_broker,
    port_open,
    quiesce,
    retention_process,
    stop_group,
    strict_proxy,
    tansu_broker,
)
from recorder.stack.strict import read_record

#: The key recorder's processes sign with on a strict stack (the delivery principal's).
DELIVERY_KEY = ("AKIDRECORDERDELIVERY", "recorder-delivery-secret")

#: The local stack's producer and key: generated per stack (``make run``, each test
#: stack), allowed for any account, and never a default anywhere else.
LOCAL_PRODUCER = "local-development"
LOCAL_KEY_ID = "local-development-1"

#: Seconds the embedded broker keeps a record after every consumer group committed past
#: it (:mod:`recorder.stack.retention`): ten minutes of a demo's or a test's traffic.
RETENTION_MARGIN = 600.0


def _margin(text: str) -> float | None:
    value = float(text)
    return None if value < 0 else value


def add_retention_margin_argument(parser: argparse.ArgumentParser, default: float) -> None:
    """``--retention-margin SECONDS`` for a command that starts a stack: the value is
    :attr:`LocalStack.retention_margin`, a negative one None (keep every record)."""
    parser.add_argument(
        "--retention-margin",
        type=_margin,
        default=default,
        metavar="SECONDS",
        help="noida-db: seconds a record stays after every consumer group committed past it "
        f"(recorder.stack.retention; default {default:g}); -1 keeps every record",
    )


def write_local_producers(path: Path) -> ProducerKey:
    """The stack's producers file with a freshly generated key (kept if it exists)."""
    from recorder.provenance.keys import ProducerKeys

    if path.exists():
        found = ProducerKeys.from_file(path).key(LOCAL_KEY_ID)
        if found is not None:
            return found
    key = ProducerKey.generate(LOCAL_KEY_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(producers_document(LOCAL_PRODUCER, ["*"], [key]), indent=2) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return key


@dataclass
class LocalStack:
    root: Path
    kafka_port: int = 29092
    moto_port: int = 5000
    broker_kind: str = "noida"  # or "tansu"
    partitions: int = 4
    strict: bool = False
    delivery_principal: str = CLOUDTRAIL_SERVICE
    proxy_port: int = 0  # strict: the proxy's port (0: a free one)
    #: The ports the stack's own recorder serves on (``make run``): written to the state
    #: file with the rest of the environment, so commands in a new shell find them.
    api_port: int | None = None
    metrics_port: int | None = None
    #: Seconds the embedded broker keeps a record after every consumer group committed
    #: past it (:mod:`recorder.stack.retention`; noida-db only, whose cost grows with
    #: what it holds). None: keep every record (the benches, which read one log again).
    retention_margin: float | None = RETENTION_MARGIN
    broker: ServerProcess | None = field(default=None, init=False)
    retention: ServerProcess | None = field(default=None, init=False)
    moto: ServerProcess | None = field(default=None, init=False)
    proxy: ServerProcess | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.strict and not self.proxy_port:
            self.proxy_port = free_port()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def aws_endpoint_url(self) -> str:
        """Where clients send S3/SNS/KMS requests: moto, or the strict proxy before it."""
        return f"http://127.0.0.1:{self.proxy_port}" if self.strict else self.moto_url

    @property
    def wire_path(self) -> Path:
        return self.root / "wire.jsonl"

    def wire(self) -> list[dict[str, object]]:
        """Every request the strict proxy saw, oldest first (empty when not strict)."""
        return read_record(self.wire_path)

    @property
    def producers_file(self) -> Path:
        """The stack's producers file: one producer, any account, a generated key."""
        return self.root.resolve() / "producers.json"

    def producer_key(self) -> ProducerKey:
        return write_local_producers(self.producers_file)

    def environment(self) -> dict[str, str]:
        """The ``RECORDER_*`` variables that point a recorder process at this stack."""
        self.producer_key()  # the file exists before anything reads it
        key, secret = DELIVERY_KEY if self.strict else ("testing", "testing")
        return {
            "RECORDER_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "RECORDER_AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "RECORDER_PARTITIONS": str(self.partitions),
            # moto accepts any credentials; clients still need some to sign with (on a
            # strict stack, the key the proxy knows as the delivery principal's)
            "RECORDER_AWS_ACCESS_KEY_ID": key,
            "RECORDER_AWS_SECRET_ACCESS_KEY": secret,
            # by default the emulator stands in for CloudTrail's own account: recorder
            # delivers as the CloudTrail service, so the guide's policies work unchanged
            # (opt-in: on AWS the principal is the writer's role, README "Deploy on AWS")
            "RECORDER_DELIVERY_PRINCIPAL": self.delivery_principal,
            # noida-db cannot rebalance a group whose member was killed
            "RECORDER_GROUP_MEMBERSHIP": "static" if self.broker_kind == "noida" else "dynamic",
            # the stack's producers file and its generated key: routers admit records
            # by it, producers and the API sign with the key
            "RECORDER_PRODUCERS_FILE": str(self.producers_file),
            "RECORDER_PRODUCER_KEY_ID": LOCAL_KEY_ID,
            **({"RECORDER_API_PORT": str(self.api_port)} if self.api_port else {}),
            **({"RECORDER_METRICS_PORT": str(self.metrics_port)} if self.metrics_port else {}),
        }

    def settings(self, **overrides: object) -> Settings:
        """Settings that point every service at this stack."""
        return Settings.from_env(self.environment(), **overrides)

    def make_broker(self) -> ServerProcess:
        log = self.root / "logs" / "broker.log"
        if self.broker_kind == "noida":
            return noida_broker(self.root / "kafka", self.kafka_port, log)
        if self.broker_kind == "tansu":
            return tansu_broker(self.kafka_port, log)
        raise StackError(f"unknown broker kind {self.broker_kind!r} (noida|tansu)")

    def start_broker(self) -> None:
        self.broker = self.make_broker()
        self.broker.start()
        asyncio.run(ensure_topics(self.settings()))

    def stop_broker(self, *, kill: bool = False) -> None:
        if self.broker is not None:
            if kill:
                self.broker.kill()
            else:
                self.broker.stop()
            self.broker = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.producer_key()
        self.moto = moto_server(self.moto_port, self.root / "logs" / "moto.log")
        self.moto.start()
        try:
            if self.strict:
                self.proxy = strict_proxy(
                    self.proxy_port,
                    self.moto_url,
                    {DELIVERY_KEY[0]: self.delivery_principal},
                    [Settings().keys_bucket],
                    self.wire_path,
                    self.root / "logs" / "strict.log",
                )
                self.proxy.start()
            self.start_broker()
            if self.retention_margin is not None and self.broker_kind == "noida":
                self.retention = retention_process(
                    self.bootstrap_servers,
                    free_port(),
                    self.retention_margin,
                    self.root / "logs" / "retention.log",
                )
                self.retention.start()
        except BaseException:
            self.stop()
            raise
        self._write_state()

    def stop(self) -> None:
        if self.retention is not None:
            self.retention.stop()
            self.retention = None
        self.stop_broker()
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        self.state_path.unlink(missing_ok=True)

    # -- state file, so `recorder stack down` finds what `up` started ------------
    @property
    def state_path(self) -> Path:
        return self.root / STACK_STATE

    def _write_state(self) -> None:
        state = {
            "broker": {
                "kind": self.broker_kind,
                "pid": self.broker and self.broker.pid,
                "quiesce": self.broker and self.broker.quiesce,
            },
            "moto": {"pid": self.moto and self.moto.pid},
            "retention": {"pid": self.retention and self.retention.pid},
            "strict": {"pid": self.proxy and self.proxy.pid},
            "kafka_port": self.kafka_port,
            "moto_port": self.moto_port,
            "bootstrap_servers": self.bootstrap_servers,
            "aws_endpoint_url": self.aws_endpoint_url,
            "producers_file": str(self.producers_file),
            "producer_key_id": LOCAL_KEY_ID,
            # what a command in a new shell needs to reach this stack (stack_environment)
            "environment": self.environment(),
        }
        self.state_path.write_text(json.dumps(state, indent=2) + "\n")


def read_state(root: Path) -> dict[str, object] | None:
    path = root / STACK_STATE
    if not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def stop_from_state(root: Path) -> list[str]:
    """Stop what a previous ``up`` started (possibly from another process)."""
    state = read_state(root)
    stopped: list[str] = []
    if not state:
        return stopped
    for name in ("retention", "broker", "strict", "moto"):
        entry = state.get(name)
        pid = entry.get("pid") if isinstance(entry, dict) else None
        argv = entry.get("quiesce") if isinstance(entry, dict) else None
        if isinstance(pid, int):
            if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
                quiesce(argv)
            stop_group(pid)
            stopped.append(f"{name} (pid {pid})")
    (root / STACK_STATE).unlink(missing_ok=True)
    return stopped


def status(root: Path) -> dict[str, object]:
    state = read_state(root) or {}
    kafka_port = int(state.get("kafka_port", 0) or 0)  # type: ignore[call-overload]
    moto_port = int(state.get("moto_port", 0) or 0)  # type: ignore[call-overload]
    return {
        "state_file": str(root / STACK_STATE) if state else None,
        "broker_up": bool(kafka_port) and port_open("127.0.0.1", kafka_port),
        "moto_up": bool(moto_port) and port_open("127.0.0.1", moto_port),
        **state,
        "pid": os.getpid(),
    }
