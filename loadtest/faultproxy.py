"""An HTTP proxy in front of the S3 server that fails and slows down requests.

    python -m loadtest.faultproxy --upstream http://127.0.0.1:5000 --port 5900 \
        --error-rate 0.2 --slow-rate 0.1 --slow-seconds 2

A share of requests gets a real S3-style error (500 InternalError, 503 SlowDown)
without reaching the server; another share is forwarded after a delay. The crash
harness points the writer at it to prove that S3 errors and throttling lose and
duplicate nothing. Faults apply only to the methods given (default PUT and POST).

``--fail-bucket logs=503:SlowDown`` answers every request of those methods for one
bucket (path-style addressing) with that status and S3 error code: one tenant's
destination broken while the others work (issue 11's containment tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from recorder.stack import proxy

_ERRORS = [
    (500, "InternalError", "We encountered an internal error. Please try again."),
    (503, "SlowDown", "Please reduce your request rate."),
]


@dataclass
class FaultProxy:
    upstream: str
    error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    methods: frozenset[str] = frozenset({"PUT", "POST"})
    seed: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"forwarded": 0, "errors": 0, "slow": 0})
    #: bucket -> (HTTP status, S3 error code) for every request to that bucket.
    bucket_faults: dict[str, tuple[int, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        bucket = request.path.lstrip("/").split("/", 1)[0]
        if request.method in self.methods and bucket in self.bucket_faults:
            status, code = self.bucket_faults[bucket]
            self.counts["errors"] += 1
            return _error(status, code, f"fault proxy: {code} for bucket {bucket}")
        if request.method in self.methods:
            roll = self._rng.random()
            if roll < self.error_rate:
                self.counts["errors"] += 1
                status, code, message = self._rng.choice(_ERRORS)
                return _error(status, code, message)
            if roll < self.error_rate + self.slow_rate:
                self.counts["slow"] += 1
                await asyncio.sleep(self.slow_seconds)
        assert self._session is not None
        response = await proxy.forward(self._session, self.upstream, request, body)
        self.counts["forwarded"] += 1
        return response

    async def start(self, host: str, port: int) -> web.AppRunner:
        self._session = proxy.session()
        return await proxy.serve(self.handle, host, port)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _error(status: int, code: str, message: str) -> web.Response:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>fault</RequestId></Error>"
    )
    return web.Response(status=status, text=xml, content_type="application/xml")


def parse_bucket_fault(spec: str) -> tuple[str, tuple[int, str]]:
    """``bucket=503:SlowDown`` -> (bucket, (503, "SlowDown"))."""
    bucket, _, rest = spec.partition("=")
    status, _, code = rest.partition(":")
    if not bucket or not status.isdigit() or not code:
        raise argparse.ArgumentTypeError(f"expected BUCKET=STATUS:CODE, got {spec!r}")
    return bucket, (int(status), code)


async def _main(args: argparse.Namespace) -> None:
    proxy = FaultProxy(
        args.upstream,
        args.error_rate,
        args.slow_rate,
        args.slow_seconds,
        seed=args.seed,
        bucket_faults=dict(args.fail_bucket or []),
    )
    runner = await proxy.start(args.host, args.port)
    print(f"fault proxy on {args.host}:{args.port} -> {args.upstream}", flush=True)
    try:
        while True:
            await asyncio.sleep(0.5)
            if args.stats_file:
                await asyncio.to_thread(Path(args.stats_file).write_text, json.dumps(proxy.counts))
    finally:
        await runner.cleanup()
        await proxy.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--error-rate", type=float, default=0.2)
    ap.add_argument("--slow-rate", type=float, default=0.1)
    ap.add_argument("--slow-seconds", type=float, default=2.0)
    ap.add_argument("--seed", type=int)
    ap.add_argument(
        "--fail-bucket",
        action="append",
        type=parse_bucket_fault,
        metavar="BUCKET=STATUS:CODE",
        help="answer every request for BUCKET with this error (repeatable)",
    )
    ap.add_argument("--stats-file", help="where to keep the fault counts (JSON)")
    asyncio.run(_main(ap.parse_args()))


if __name__ == "__main__":
    main()
