"""Where the control API reads and writes trail documents.

The real store is the compacted ``trails`` topic through the process's
:class:`~recorder.services.registry.TrailRegistry`: a write is published, and the
call returns only once this process's registry has applied it (read-your-writes),
so a client that creates a trail and at once describes it, through this replica
or after a restart, sees it. Every write of an account runs inside
:meth:`TrailStore.exclusive`, which across replicas is the account's lease on the
topic (:mod:`recorder.api.leases`): checks and publish are then linearizable.
:class:`MemoryStore` is the same contract in memory, for handler tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import orjson
from aiokafka.errors import KafkaError

from recorder.api.leases import LEASE_MS, Lease, Leases
from recorder.api.protocol import ApiError
from recorder.aws.arn import arn_or_none, is_channel_arn
from recorder.aws.times import parse_time
from recorder.obs.logging import get_logger
from recorder.settings import Settings
from recorder.trails import Trail, TrailError
from recorder.trails.document import TrailDocument
from recorder.trails.errors import answer
from recorder.trails.index import TrailIndex
from recorder.trails.leases import EPOCH_HEADER
from recorder.trails.retired import is_retired, retire

Document = dict[str, Any]

log = get_logger("recorder.api.store")

#: How long a read waits for the ``trails`` log's end before it answers from what
#: this replica has applied (seconds).
READ_FRESH_WITHIN = 5.0


class TrailStore(Protocol):
    """The trail documents every account has, and the one way to change them.

    Lookups are indexed (:class:`~recorder.trails.index.TrailIndex`): by ARN (in any
    Region), an account's trails, an account's trails of one name, the organization
    trails; none costs more with more accounts."""

    def trails(self) -> Iterator[TrailDocument]:
        """Every trail (tools; no request handler scans them)."""
        ...

    def trail(self, trail_arn: str) -> TrailDocument | None:
        """The trail with this ARN, whatever its Region."""
        ...

    def indexed(self, trail_arn: str) -> Trail | None:
        """The trail with this ARN as the index holds it (no document read)."""
        ...

    def account_trails(self, account_id: str) -> list[TrailDocument]:
        """The account's own trails, in every Region."""
        ...

    def named(self, account_id: str, name: str) -> list[TrailDocument]:
        """The account's trails of this name (the caller's Region picks among them)."""
        ...

    def organization_trails(self) -> list[TrailDocument]: ...

    def organization_of(self, account_id: str) -> str | None: ...

    def management_account_of(self, org_id: str) -> str | None: ...

    async def fresh(self) -> None:
        """Wait until every change published before this call, by any replica, is
        applied here: a read then sees every write that returned before it began."""
        ...

    def exclusive(self, account_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the account's write lock (every replica) for a check-then-write."""
        ...

    async def put(self, trail_arn: str, document: Document) -> None: ...

    async def delete(self, trail_arn: str, deleted_at: str) -> None:
        """DeleteTrail at ``deleted_at`` (a CloudTrail time, after the call's own
        record): gone for the API; its late events still go where it delivered."""
        ...

    def channel(self, channel_arn: str) -> Document | None:
        """A CloudTrail Lake channel's document (CreateChannel), by its ARN."""
        ...

    def account_channels(self, account_id: str) -> list[Document]: ...

    async def put_channel(self, channel_arn: str, document: Document | None) -> None:
        """Write (``None``: delete) a channel, inside the account's :meth:`exclusive`."""
        ...


class _Documents:
    """An index of trails and their stored documents, each read into a
    :class:`TrailDocument` once per version: a changed document is a new object, so
    the cache holds each document with what it gave. The lookups both stores share."""

    def __init__(
        self,
        index: Callable[[], TrailIndex],
        document: Callable[[str], Mapping[str, Any] | None],
    ) -> None:
        self._index = index
        self._document = document
        self._cache: dict[str, tuple[Mapping[str, Any], TrailDocument]] = {}

    def trails(self) -> Iterator[TrailDocument]:
        for arn in list(self._index()):
            found = self.trail(arn)
            if found is not None:
                yield found

    def indexed(self, trail_arn: str) -> Trail | None:
        """The trail as the index holds it, without reading its document (whether a
        caller may see it at all is decided on this)."""
        return self._index().get(trail_arn)

    def trail(self, trail_arn: str) -> TrailDocument | None:
        index = self._index()
        if trail_arn not in index:
            self._cache.pop(trail_arn, None)
            return None  # none, or stored but unreadable by Trail.from_api: not a trail
        doc = self._document(trail_arn)
        if doc is None:
            return None
        hit = self._cache.get(trail_arn)
        if hit is not None and hit[0] is doc:
            return hit[1]
        try:
            parsed = TrailDocument.from_document(doc)
        except TrailError:
            return None
        self._cache[trail_arn] = (doc, parsed)
        if len(self._cache) > 2 * len(index) + 100:  # deleted trails, now and then
            for arn in [a for a in self._cache if a not in index]:
                del self._cache[arn]
        return parsed

    def _documents(self, trails: Iterable[Trail]) -> list[TrailDocument]:
        return [d for d in (self.trail(t.trail_arn) for t in trails) if d is not None]

    def account_trails(self, account_id: str) -> list[TrailDocument]:
        return self._documents(self._index().of_account(account_id))

    def named(self, account_id: str, name: str) -> list[TrailDocument]:
        return self._documents(self._index().named(account_id, name))

    def organization_trails(self) -> list[TrailDocument]:
        return self._documents(self._index().organization_trails())


async def publish(
    settings: Settings,
    producer: Any,
    key: str,
    value: dict[str, Any] | None,
    epoch: int | None = None,
) -> int:
    """Write one change to `trails`; returns its offset. ``None`` deletes (tombstone);
    ``epoch``: the lease the write is made under (every trail write has one).

    The control API is the one writer of trail documents; the registry (in
    ``recorder.services``) only reads them back.
    """
    body = None if value is None else orjson.dumps(value)
    headers = [] if epoch is None else [(EPOCH_HEADER, str(epoch).encode())]
    meta = await producer.send_and_wait(
        settings.topics.trails, body, key=key.encode(), partition=0, headers=headers
    )
    return int(meta.offset)


class RegistryStore(_Documents):
    """Trail documents on the ``trails`` topic, read back through the registry."""

    def __init__(
        self, settings: Settings, registry: Any, producer: Any, *, lease_ms: int = LEASE_MS
    ) -> None:
        super().__init__(lambda: registry.trails, registry.document)
        self._settings = settings
        self._registry = registry
        self._producer = producer

        async def publish_lease(key: str, value: dict[str, Any]) -> int:
            return await publish(settings, producer, key, value)

        self._leases = Leases(
            registry.leases,
            registry.changed,
            publish_lease,
            lambda: int(registry.position),
            lease_ms,
        )
        self._local: dict[str, asyncio.Lock] = {}
        self._held: dict[str, Lease] = {}

    async def fresh(self) -> None:
        # A write through another replica returns once that replica has applied it;
        # this one follows the topic on its own, a moment behind under load. One
        # ListOffsets request when up to date. With the broker unreachable, the read
        # answers from what is applied (writes fail then too) and says so in the log.
        try:
            async with asyncio.timeout(READ_FRESH_WITHIN):
                await self._registry.fresh(within=READ_FRESH_WITHIN)
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "api_read_not_fresh",
                position=int(self._registry.position),
                error=f"{type(exc).__name__}: {exc}",
            )

    @contextlib.asynccontextmanager
    async def exclusive(self, account_id: str) -> AsyncIterator[None]:
        async with self._local.setdefault(account_id, asyncio.Lock()), self._lease(account_id):
            yield

    @contextlib.asynccontextmanager
    async def _lease(self, account_id: str) -> AsyncIterator[Lease]:
        try:
            lease = await self._leases.acquire(account_id, uuid.uuid4().hex)
        except (KafkaError, TimeoutError) as exc:
            raise _unavailable("could not take the account's write lease", exc) from exc
        self._held[account_id] = lease
        try:
            yield lease
        finally:
            self._held.pop(account_id, None)
            with contextlib.suppress(KafkaError, TimeoutError):
                await self._leases.release(account_id, lease.id)

    def organization_of(self, account_id: str) -> str | None:
        orgs: Mapping[str, str] = self._registry.organizations
        return orgs.get(account_id) or None

    def management_account_of(self, org_id: str) -> str | None:
        found: str | None = self._registry.management_account_of(org_id)
        return found

    async def put(self, trail_arn: str, document: Document) -> None:
        await self._write(trail_arn, document)

    def channel(self, channel_arn: str) -> Document | None:
        found: Document | None = self._registry.channels.get(channel_arn)
        return found

    def account_channels(self, account_id: str) -> list[Document]:
        return [
            doc
            for arn, doc in sorted(self._registry.channels.items())
            if _account(arn) == account_id
        ]

    async def put_channel(self, channel_arn: str, document: Document | None) -> None:
        await self._write(channel_arn, document)

    async def delete(self, trail_arn: str, deleted_at: str) -> None:
        doc = self._registry.document(trail_arn)
        await self._write(trail_arn, None if doc is None else retire(doc, deleted_at))

    async def _write(self, trail_arn: str, document: Document | None) -> None:
        lease = self._held.get(_account(trail_arn))
        if lease is None:
            raise RuntimeError("a trail write outside its account's lease")
        if self._leases.log_now_ms() > lease.deadline_ms():
            raise _unavailable("the account's write lease ran out before the write", None)
        try:
            offset = await publish(self._settings, self._producer, trail_arn, document, lease.epoch)
            await self._registry.wait_for_offset(offset)
        except (KafkaError, TimeoutError) as exc:
            raise _unavailable("the trail store did not confirm the change in time", exc) from exc
        if self._registry.was_fenced(offset):
            # Another replica was granted the lease before this write landed (this one
            # was paused, or its send was slow): every reader ignores it. Write the
            # accepted document again, so compaction never keeps the stale one.
            with contextlib.suppress(ApiError):
                await self._repair(trail_arn)
            raise ApiError(*answer("conflict"))

    async def _repair(self, trail_arn: str) -> None:
        """Write a key's accepted document again under a lease of its own (after a
        record of it was ignored as stale), unless a newer accepted record came."""
        async with self._lease(_account(trail_arn)) as lease:
            if trail_arn not in self._registry.dangling:
                return
            doc = (
                self._registry.channels.get(trail_arn)
                if is_channel_arn(trail_arn)
                else self._registry.document(trail_arn)
            )
            try:
                offset = await publish(self._settings, self._producer, trail_arn, doc, lease.epoch)
                await self._registry.wait_for_offset(offset)
            except (KafkaError, TimeoutError) as exc:
                raise _unavailable("could not repair a trail record", exc) from exc
            log.info("trail_write_repaired", trail_arn=trail_arn, offset=offset)

    async def maintain(self, now: dt.datetime, parking_period: float) -> None:
        """What any replica does now and then: repair keys whose last record is stale
        (a replica died before its repair), and tombstone trails retired longer than
        the parking period (nothing of theirs can still wait for delivery)."""
        for trail_arn in list(self._registry.dangling):
            async with self._local.setdefault(_account(trail_arn), asyncio.Lock()):
                with contextlib.suppress(ApiError):
                    await self._repair(trail_arn)
        cutoff = now - dt.timedelta(seconds=parking_period)
        for trail_arn, deleted in self._registry.retired().items():
            if parse_time(deleted) > cutoff:
                continue
            async with (
                self._local.setdefault(_account(trail_arn), asyncio.Lock()),
                self._lease(_account(trail_arn)) as lease,
            ):
                doc = self._registry.document(trail_arn)
                if doc is None or not is_retired(doc):
                    continue  # created again meanwhile
                try:
                    offset = await publish(
                        self._settings, self._producer, trail_arn, None, lease.epoch
                    )
                    await self._registry.wait_for_offset(offset)
                except (KafkaError, TimeoutError) as exc:
                    log.warning("retired_trail_not_removed", trail_arn=trail_arn, error=repr(exc))
                    continue
                log.info("retired_trail_removed", trail_arn=trail_arn, deleted=deleted)


def _account(trail_arn: str) -> str:
    arn = arn_or_none(trail_arn)
    return arn.account if arn is not None else ""


def _unavailable(what: str, exc: Exception | None) -> ApiError:
    # Not a client error: botocore retries 5xx, and a write that did land is
    # visible on the retry (creates then answer TrailAlreadyExists).
    suffix = f": {type(exc).__name__}" if exc is not None else ""
    return ApiError("ServiceUnavailableException", f"{what}{suffix}", status=503)


class MemoryStore(_Documents):
    """In-memory store with the same contract (tests, tools)."""

    def __init__(
        self,
        organizations: Mapping[str, str] | None = None,
        management: Mapping[str, str] | None = None,
    ) -> None:
        self.docs: dict[str, Document] = {}
        self._trails = TrailIndex()
        super().__init__(lambda: self._trails, self.docs.get)
        self.organizations = dict(organizations or {})
        self.management = dict(management or {})  # org id -> management account
        self.channels: dict[str, Document] = {}
        self.writes = 0
        self._lock = asyncio.Lock()
        self._accounts: dict[str, asyncio.Lock] = {}

    async def fresh(self) -> None:
        return  # one process: every write is applied before it returns

    @contextlib.asynccontextmanager
    async def exclusive(self, account_id: str) -> AsyncIterator[None]:
        async with self._accounts.setdefault(account_id, asyncio.Lock()):
            yield

    def document(self, trail_arn: str) -> Document | None:
        """The stored JSON, as the registry would read it."""
        return self.docs.get(trail_arn)

    def organization_of(self, account_id: str) -> str | None:
        return self.organizations.get(account_id)

    def management_account_of(self, org_id: str) -> str | None:
        return self.management.get(org_id)

    async def put(self, trail_arn: str, document: Document) -> None:
        async with self._lock:
            self.docs[trail_arn] = document
            self._trails.remove(trail_arn)
            with contextlib.suppress(TrailError):  # as the registry: not a trail
                self._trails.put(Trail.from_api(document))
            self.writes += 1

    async def delete(self, trail_arn: str, deleted_at: str = "") -> None:
        async with self._lock:
            self.docs.pop(trail_arn, None)
            self._trails.remove(trail_arn)
            self.writes += 1

    def channel(self, channel_arn: str) -> Document | None:
        return self.channels.get(channel_arn)

    def account_channels(self, account_id: str) -> list[Document]:
        return [d for a, d in sorted(self.channels.items()) if a.split(":")[4] == account_id]

    async def put_channel(self, channel_arn: str, document: Document | None) -> None:
        async with self._lock:
            if document is None:
                self.channels.pop(channel_arn, None)
            else:
                self.channels[channel_arn] = document
            self.writes += 1
