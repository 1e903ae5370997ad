"""Where the control API reads and writes trail documents.

The real store is the compacted ``trails`` topic through the process's
:class:`~recorder.services.registry.TrailRegistry`: a write is published, and the
call returns only once this process's registry has applied it (read-your-writes),
so a client that creates a trail and at once describes it, through this replica
or after a restart, sees it. :class:`MemoryStore` is the same contract in memory,
for handler tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from aiokafka.errors import KafkaError

from recorder.api.protocol import ApiError
from recorder.settings import Settings

Document = dict[str, Any]


class TrailStore(Protocol):
    """The trail documents every account has, and the one way to change them."""

    def documents(self) -> Iterator[Document]: ...

    def document(self, trail_arn: str) -> Document | None: ...

    def organization_of(self, account_id: str) -> str | None: ...

    def management_account_of(self, org_id: str) -> str | None: ...

    async def put(self, trail_arn: str, document: Document) -> None: ...

    async def delete(self, trail_arn: str) -> None: ...


class RegistryStore:
    """Trail documents on the ``trails`` topic, read back through the registry."""

    def __init__(self, settings: Settings, registry: Any, producer: Any) -> None:
        self._settings = settings
        self._registry = registry
        self._producer = producer

    def documents(self) -> Iterator[Document]:
        for arn in list(self._registry.trails):
            doc = self._registry.document(arn)
            if doc is not None:
                yield doc

    def document(self, trail_arn: str) -> Document | None:
        if trail_arn not in self._registry.trails:
            return None  # stored but unreadable by Trail.from_api: not a trail
        doc: Document | None = self._registry.document(trail_arn)
        return doc

    def organization_of(self, account_id: str) -> str | None:
        orgs: Mapping[str, str] = self._registry.organizations
        return orgs.get(account_id) or None

    def management_account_of(self, org_id: str) -> str | None:
        found: str | None = self._registry.management_account_of(org_id)
        return found

    async def put(self, trail_arn: str, document: Document) -> None:
        await self._write(trail_arn, document)

    async def delete(self, trail_arn: str) -> None:
        await self._write(trail_arn, None)

    async def _write(self, trail_arn: str, document: Document | None) -> None:
        from recorder.services.registry import publish

        try:
            offset = await publish(self._settings, self._producer, trail_arn, document)
            await self._registry.wait_for_offset(offset)
        except (KafkaError, TimeoutError) as exc:
            # Not a client error: botocore retries 5xx, and a write that did land
            # is visible on the retry (creates then answer TrailAlreadyExists).
            raise ApiError(
                "ServiceUnavailableException",
                f"The trail store did not confirm the change in time: {type(exc).__name__}",
                status=503,
            ) from exc


class MemoryStore:
    """In-memory store with the same contract (tests, tools)."""

    def __init__(
        self,
        organizations: Mapping[str, str] | None = None,
        management: Mapping[str, str] | None = None,
    ) -> None:
        self.docs: dict[str, Document] = {}
        self.organizations = dict(organizations or {})
        self.management = dict(management or {})  # org id -> management account
        self.writes = 0
        self._lock = asyncio.Lock()

    def documents(self) -> Iterator[Document]:
        yield from list(self.docs.values())

    def document(self, trail_arn: str) -> Document | None:
        return self.docs.get(trail_arn)

    def organization_of(self, account_id: str) -> str | None:
        return self.organizations.get(account_id)

    def management_account_of(self, org_id: str) -> str | None:
        return self.management.get(org_id)

    async def put(self, trail_arn: str, document: Document) -> None:
        async with self._lock:
            self.docs[trail_arn] = document
            self.writes += 1

    async def delete(self, trail_arn: str) -> None:
        async with self._lock:
            self.docs.pop(trail_arn, None)
            self.writes += 1
