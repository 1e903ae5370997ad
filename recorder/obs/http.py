"""The operational endpoint of every process: ``/metrics``, ``/healthz``, ``/readyz``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from recorder.obs.metrics import Metrics


def app(
    metrics: Metrics,
    ready: Callable[[], bool],
    detail: Callable[[], Mapping[str, Any]] | None = None,
    before_scrape: Callable[[], None] | None = None,
) -> web.Application:
    """``detail`` adds what a reader of ``/readyz`` needs to act (which service is
    failing and why, which is still starting) to its JSON body. ``before_scrape``
    brings gauges that mirror state read on demand (readiness) up to date."""

    async def metrics_handler(_: web.Request) -> web.Response:
        if before_scrape is not None:
            before_scrape()
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ok = ready()
        body: dict[str, Any] = {"ready": ok}
        if detail is not None:
            body.update(detail())
        return web.json_response(body, status=200 if ok else 503)

    application = web.Application()
    application.router.add_get("/metrics", metrics_handler)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    return application


async def serve(application: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
