"""``recorder run router|writer|digester|api|insights|aggregation|all``: start services in this process.

Every service is an asyncio task sharing one metrics registry and one
``/metrics``-``/healthz``-``/readyz`` endpoint. SIGTERM or SIGINT sets the stop event;
each service then finishes its work in a bounded time (the writer cuts and delivers
its open batches) and the process exits 0.

Each service runs supervised (:mod:`recorder.services.supervise`): a failure restarts
that service with backoff while the others keep running, and ``/readyz`` names it.
A process running one stage exits 1 after too many failures in a row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from recorder.obs import http
from recorder.obs.logging import configure, get_logger
from recorder.obs.metrics import Metrics
from recorder.services.memory import freeze_startup, tune_collector
from recorder.services.supervise import RestartPolicy, Supervisor
from recorder.settings import Settings

log = get_logger("recorder.run")

SERVICES = ("router", "writer", "digester", "api", "insights", "aggregation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("services", nargs="+", choices=[*SERVICES, "all"], help="what to run")
    parser.add_argument("--metrics-host", default="127.0.0.1")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()  # a SettingsError is reported by recorder.cli
    wanted = set(SERVICES if "all" in args.services else args.services)
    if "api" in wanted:
        from recorder.api.config import ApiConfig

        # Before any connection: the API never starts without credentials, and signs
        # the records it sends (its own calls, PutAuditEvents) with a producer key.
        ApiConfig.from_env().credentials()
        settings.producer_key()
    if wanted & {"router", "insights"}:
        settings.admission_keys()  # readers of api-events admit by the producers file
    configure(settings.log_level)
    tune_collector(settings.gc_threshold)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    return asyncio.run(run_services(settings, wanted, metrics_host=args.metrics_host))


async def run_services(
    settings: Settings,
    wanted: set[str],
    *,
    metrics_host: str = "127.0.0.1",
    stop: asyncio.Event | None = None,
) -> int:
    from recorder.services.registry import TrailRegistry

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    metrics = Metrics()
    if wanted & {"api", "writer"}:  # they judge policies for the principal they deliver as
        from recorder.services.principal import with_delivery_principal

        settings = await with_delivery_principal(settings)
    registry = await TrailRegistry.start(settings)
    services: dict[str, Any] = {}
    runners: dict[str, Callable[[], Awaitable[None]]] = {}
    from recorder.services.organizations import OrganizationsFollower

    organizations = OrganizationsFollower(settings, registry, metrics)
    if organizations.enabled:  # membership before the first event is routed
        await organizations.refresh()
        runners["organizations"] = lambda: organizations.run(stop)
    if "router" in wanted:
        from recorder.routing.service import Router

        router = Router(settings, registry.engine, metrics, fresh=registry.fresh)
        services["router"] = router
        runners["router"] = lambda: router.run(stop)
    from recorder.services.status import CombinedStatus, StatusPublisher, TopicStatus

    local_status: list[Any] = []

    def exists(trail_arn: str) -> bool:  # deleted: its status keys are tombstoned
        return registry.get(trail_arn) is not None

    if "writer" in wanted:
        from recorder.delivery.writer import Writer

        writer = Writer(settings, registry.target, metrics)
        delivery_status = StatusPublisher(
            settings, "delivery", writer.status, seat=writer.seat, exists=exists
        )
        local_status.append(writer.status)
        services |= {"writer": writer, "delivery-status": delivery_status}
        runners |= {
            "writer": lambda: writer.run(stop),
            "delivery-status": lambda: delivery_status.run(stop),
        }
    if "digester" in wanted:
        from recorder.integrity.service import Digester

        digester = Digester(settings, registry, metrics)
        digest_status = StatusPublisher(
            settings, "digest", digester.status, seat=digester.seat, exists=exists
        )
        local_status.append(digester.status)
        services |= {"digester": digester, "digest-status": digest_status}
        runners |= {
            "digester": lambda: digester.run(stop),
            "digest-status": lambda: digest_status.run(stop),
        }
    if "insights" in wanted:
        from recorder.insights.service import create as create_insights

        insights = create_insights(settings, registry, metrics)
        services |= {"insights": insights}
        runners |= {"insights": lambda: insights.run(stop)}
    if "aggregation" in wanted:
        from recorder.aggregation.service import create as create_aggregation

        aggregation = create_aggregation(settings, registry, metrics)
        services |= {"aggregation": aggregation}
        runners |= {"aggregation": lambda: aggregation.run(stop)}
    if "api" in wanted:
        from recorder.api.service import create as create_api
        from recorder.services.keys import StoredPublicKeys

        keys = StoredPublicKeys(settings)
        remote_status = TopicStatus(settings)
        api = create_api(
            settings,
            registry,
            metrics,
            status=CombinedStatus(*local_status, remote=remote_status),
            public_keys=keys,
        )
        services |= {"api": api, "public-keys": keys, "trail-status": remote_status}
        runners |= {
            "api": lambda: api.run(stop),
            "public-keys": lambda: keys.run(stop),
            "trail-status": lambda: remote_status.run(stop),
        }

    # The control API answers from the registry: there a trail change (or a lease,
    # another replica's write) is read the moment it lands, never paced.
    runners["registry"] = lambda: registry.follow(stop, paced="api" not in wanted)
    freeze_startup()  # clients, models and the trail set: allocated once, kept
    supervisor = Supervisor(RestartPolicy.from_settings(settings), metrics, stop)
    alone = len(wanted) == 1

    def ready() -> bool:
        return all(s.ready.is_set() for s in services.values()) and not supervisor.failing()

    def detail() -> dict[str, Any]:
        return {
            "failing": supervisor.failing(),
            "starting": sorted(n for n, s in services.items() if not s.ready.is_set()),
        }

    def publish_ready() -> None:
        """``ready()`` per service, for alerts (``/readyz`` is read by the kubelet)."""
        failing = supervisor.failing()
        for name in sorted({*services, *runners}):
            started = name not in services or services[name].ready.is_set()
            metrics.service_ready.labels(name).set(1 if started and name not in failing else 0)

    site = await http.serve(
        http.app(metrics, ready, detail, before_scrape=publish_ready),
        metrics_host,
        settings.metrics_port,
    )
    log.info("services_starting", services=sorted(wanted), metrics_port=settings.metrics_port)
    tasks = [
        asyncio.create_task(supervisor.supervise(name, runner, alone=alone), name=name)
        for name, runner in runners.items()
    ]
    stopper = asyncio.create_task(stop.wait())
    code = 0
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                log.error("process_exiting", service=task.get_name(), error=repr(task.exception()))
                code = 1
                stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        stopper.cancel()
        await site.cleanup()
        await registry.close()
    log.info("services_stopped", code=code)
    return code
