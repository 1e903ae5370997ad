"""AWS clients of the writer by service and region, opened on first use.

A trail's topic or key may live in another region than the writer's (a notice goes
through a client of the topic's own region); the notifier and the grant checker share
one pool, so the writer holds one client per (service, region) and closes them together.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aioboto3

from recorder.aws.arn import arn_or_none
from recorder.settings import Settings


def arn_region(arn: str, default: str) -> str:
    """``arn:aws:<service>:<region>:<account>:...`` -> region; ``default`` for a bare
    name or an ARN without one."""
    parsed = arn_or_none(arn)
    return parsed.region if parsed is not None and parsed.region else default


class RegionalClients:
    def __init__(self, settings: Settings, config: Any) -> None:
        self._settings = settings
        self._config = config
        self._session = aioboto3.Session()
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[str, str], Any] = {}
        self._opening = asyncio.Lock()

    async def get(self, service: str, region: str) -> Any:
        async with self._opening:
            client = self._clients.get((service, region))
            if client is None:
                kw = {**self._settings.aws_client_kwargs(), "region_name": region}
                client = await self._stack.enter_async_context(
                    self._session.client(service, config=self._config, **kw)
                )
                self._clients[(service, region)] = client
            return client

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()
