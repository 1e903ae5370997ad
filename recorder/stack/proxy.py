"""An HTTP pass-through before moto: what the local stack's proxies share.

Bodies pass byte for byte (no decompression: log files are sent with
``Content-Encoding: gzip``), hop-by-hop headers are dropped both ways. The strict
mode's proxy (:mod:`recorder.stack.strict`) and the load test's fault proxy
(``loadtest.faultproxy``) decide what to answer themselves and forward the rest here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "proxy-connection",
        "content-length",
    }
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(auto_decompress=False)


async def forward(
    client: aiohttp.ClientSession, upstream: str, request: web.Request, body: bytes
) -> web.Response:
    """``request`` (whose body was read) sent on to ``upstream``, and its answer."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
    async with client.request(
        request.method,
        upstream + request.raw_path,
        headers=headers,
        data=body,
        allow_redirects=False,
    ) as answer:
        payload = await answer.read()
        out = {k: v for k, v in answer.headers.items() if k.lower() not in HOP}
        return web.Response(status=answer.status, body=payload, headers=out)


async def serve(handler: Handler, host: str, port: int) -> web.AppRunner:
    """Every path and method to ``handler`` on ``host:port``."""
    app = web.Application(client_max_size=1 << 30, handler_args={"auto_decompress": False})
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
