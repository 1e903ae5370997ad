"""Who made a call, from the credentials that signed it: CloudTrail's ``userIdentity``.

A producer must say whose events it records, or every event would land in some
default account's trails. ``CallerIdentityResolver`` asks STS ``GetCallerIdentity``
per credential set (access key, secret, session token), so the identity is the one
AWS itself attributes to those credentials.

Nothing here blocks the sink's thread: :meth:`LookupResolver.resolve` answers from a
cache at once, or says "not yet" (None) and starts a lookup on a small pool of its
own threads, one lookup in flight per credential set. A known identity is looked up
again ahead of its expiry while the cached one goes on serving; a lookup that fails
for a while (STS unreachable, throttled, 5xx) is retried with capped backoff, the
records waiting meanwhile (the sink keeps them, in memory and then on disk). A
lookup STS refuses (an expired token, say) still gives what is known: the access key
id, and the account it was issued in, read from the key itself as ``sts
get-access-key-info`` does.

``identity_from_caller`` is the pure part: the ARN STS returns says the identity's
type (guide line 11795): ``user/`` an ``IAMUser``, ``assumed-role/`` an
``AssumedRole`` with a ``sessionContext`` naming the role that issued it,
``federated-user/`` a ``FederatedUser``, ``root`` the account's ``Root``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from recorder.aws.arn import arn_or_none, is_region, partition_named, regional_endpoint
from recorder.aws.times import format_seconds
from recorder.obs.logging import get_logger
from recorder.producer.record import Identity
from recorder.retry import retry_delay, transient

log = get_logger("recorder.producer")


class Credentials(NamedTuple):
    """The frozen credentials a call was signed with (botocore's ``ReadOnlyCredentials``)."""

    access_key: str
    secret_key: str
    token: str | None

    def fingerprint(self) -> str:
        """A name for the credential set that gives none of it away (journal lines)."""
        raw = "\0".join((self.access_key, self.secret_key, self.token or ""))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class IdentityResolver(Protocol):
    def resolve(self, credentials: Credentials | None, region: str | None) -> Identity | None:
        """The identity now, or None while it is being looked up. Never blocks."""
        ...


class StaticIdentity:
    """One identity for every call: for a producer whose credentials STS cannot see."""

    generation = 0

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def resolve(self, credentials: Credentials | None, region: str | None) -> Identity:
        return self.identity

    def __call__(self, credentials: Credentials | None) -> Identity:
        return self.identity


def identity_from_caller(
    arn: str, user_id: str, account: str, access_key_id: str | None, *, now: dt.datetime
) -> Identity:
    """The ``userIdentity`` of a ``GetCallerIdentity`` answer (Arn, UserId, Account)."""
    parsed = arn_or_none(arn)
    resource = parsed.resource if parsed is not None else ""
    partition = parsed.partition if parsed is not None else "aws"
    if resource == "root":
        return Identity(
            account_id=account,
            access_key_id=access_key_id,
            type="Root",
            arn=arn,
            principal_id=account,
        )
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        role_name, _, _session = rest.partition("/")
        role_id = user_id.split(":", 1)[0]
        context = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:{partition}:iam::{account}:role/{role_name}",
                "accountId": account,
                "userName": role_name,
            },
            "webIdFederationData": {},
            "attributes": {
                "creationDate": format_seconds(now),
                "mfaAuthenticated": "false",
            },
        }
        return Identity(
            account_id=account,
            access_key_id=access_key_id,
            type="AssumedRole",
            arn=arn,
            principal_id=user_id,
            session_context=context,
        )
    if kind == "federated-user":
        return Identity(
            account_id=account,
            access_key_id=access_key_id,
            type="FederatedUser",
            arn=arn,
            principal_id=user_id,
            session_context={
                "sessionIssuer": {},
                "attributes": {
                    "creationDate": format_seconds(now),
                    "mfaAuthenticated": "false",
                },
            },
        )
    return Identity(
        account_id=account,
        access_key_id=access_key_id,
        type="IAMUser",
        arn=arn,
        principal_id=user_id,
        user_name=rest.rsplit("/", 1)[-1] if rest else None,
    )


#: Access key ids that carry their account (issued since 2019: AKIA/ASIA and a fifth
#: character other than I or J, which marks the older, opaque form).
_ACCOUNT_KEY = re.compile(r"A[KS]IA[A-HK-Z2-7][A-Z2-7]{15}")


def account_of_access_key(access_key_id: str) -> str | None:
    """The account an access key id was issued in, read from the id itself (what ``aws
    sts get-access-key-info`` answers), or None for an id that does not carry it."""
    if not _ACCOUNT_KEY.fullmatch(access_key_id):
        return None
    try:
        raw = base64.b32decode(access_key_id[4:])  # 16 characters: 10 bytes
    except (binascii.Error, ValueError):
        return None
    value = int.from_bytes(raw[:6], "big") & 0x7FFFFFFFFF80
    return f"{value >> 7:012d}"


def known_identity(credentials: Credentials) -> Identity | None:
    """What is known of the caller without STS: its access key id and, when the key id
    carries it, its account (``userIdentity.type`` ``Unknown``); None without one."""
    account = account_of_access_key(credentials.access_key)
    if account is None:
        return None
    return Identity(
        account_id=account,
        access_key_id=credentials.access_key,
        type="Unknown",
        principal_id=credentials.access_key,
    )


def sts_region(client_region: str | None) -> str:
    """Where to ask STS about a call made in ``client_region``: that region, at its own
    regional endpoint in its partition (:func:`recorder.aws.arn.regional_endpoint`:
    ``sts.cn-north-1.amazonaws.com.cn`` for China; never the global endpoint), or the
    partition's global region for a client of a partition's global endpoint
    (``aws-global``, ``aws-cn-global``)."""
    region = (client_region or "").strip()
    if is_region(region):
        return region
    if region.endswith("-global"):
        with contextlib.suppress(ValueError):
            return partition_named(region[: -len("-global")]).global_region
    return partition_named("aws").global_region


@dataclass(slots=True)
class _Entry:
    identity: Identity | None = None
    refresh_at: float = 0.0  # when the identity should be looked up again
    retry_at: float = 0.0  # no lookup before this (backoff after failures)
    failures: int = 0
    in_flight: bool = False
    region: str | None = None


class LookupResolver:
    """Identities from a lookup function (``lookup(credentials, region) -> Identity``),
    run on the resolver's own threads, one in flight per credential set, cached.

    ``ttl``: an identity is looked up again after ``refresh`` of it (ahead of expiry)
    and served meanwhile, and after a failed refresh for as long as STS is away (what
    is known). ``cache_size`` bounds the credential sets kept (temporary credentials
    rotate). ``generation`` grows with every finished lookup: the sink looks at what
    waits for an identity again only when it has changed.
    """

    def __init__(
        self,
        lookup: Callable[[Credentials, str | None], Identity] | None = None,
        *,
        ttl: float = 3600.0,
        refresh: float = 0.8,
        retry_base: float = 1.0,
        retry_max: float = 60.0,
        refused_retry: float = 300.0,
        workers: int = 2,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lookup is not None:
            self._lookup = lookup
        self.ttl = ttl
        self.refresh = refresh
        self.retry_base, self.retry_max, self.refused_retry = retry_base, retry_max, refused_retry
        self.workers = workers
        self.cache_size = cache_size
        self.clock = clock
        self.lookups = 0
        self.failures = 0
        self.generation = 0
        self._reset()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (r := ref()) is not None and r._reset(fork=True))

    def _reset(self, *, fork: bool = False) -> None:
        """Fresh locks and threads: a forked child has no threads, and a lock a thread of
        the parent held at the fork stays held in the child. The cache is kept."""
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        if fork:
            for entry in self._cache.values():
                entry.in_flight = False  # the parent's lookup is not the child's
        else:
            self._cache: OrderedDict[Credentials, _Entry] = OrderedDict()

    def _lookup(self, credentials: Credentials, region: str | None) -> Identity:
        raise NotImplementedError

    # -- the sink's thread: never waits ------------------------------------------------
    def resolve(self, credentials: Credentials | None, region: str | None) -> Identity | None:
        if credentials is None:
            raise LookupError("the call was not signed: no credentials to resolve")
        now = self.clock()
        with self._lock:
            entry = self._cache.get(credentials)
            if entry is None:
                entry = self._cache[credentials] = _Entry(region=region)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(credentials)
            due = (entry.identity is None or now >= entry.refresh_at) and now >= entry.retry_at
            if due and not entry.in_flight:
                entry.in_flight = True
                self._submit(credentials, entry)
            return entry.identity

    def __call__(self, credentials: Credentials | None) -> Identity:
        """A blocking lookup (scripts, tests); the sink never calls this."""
        if credentials is None:
            raise LookupError("the call was not signed: no credentials to resolve")
        return self._lookup(credentials, None)

    # -- the resolver's threads ----------------------------------------------------------
    def _submit(self, credentials: Credentials, entry: _Entry) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="recorder-identity")
        self._pool.submit(self._run, credentials, entry)

    def _run(self, credentials: Credentials, entry: _Entry) -> None:
        try:
            identity = self._lookup(credentials, entry.region)
        except Exception as exc:
            self._failed(credentials, entry, exc)
        else:
            with self._lock:
                now = self.clock()
                entry.identity = identity
                entry.refresh_at = now + self.ttl * self.refresh
                entry.retry_at = 0.0
                entry.failures = 0
                entry.in_flight = False
                self.lookups += 1
                self.generation += 1
        finally:
            with self._lock:
                entry.in_flight = False

    def _failed(self, credentials: Credentials, entry: _Entry, exc: BaseException) -> None:
        with self._lock:
            now = self.clock()
            self.failures += 1
            entry.failures += 1
            if transient(exc):
                delay = retry_delay(entry.failures, base=self.retry_base, cap=self.retry_max)
                entry.retry_at = now + delay
                if entry.failures == 1 or entry.failures % 10 == 0:
                    log.warning(
                        "identity_lookup_failed",
                        access_key_id=credentials.access_key,
                        error=repr(exc),
                        attempts=entry.failures,
                        retry_in=round(delay, 1),
                    )
                return
            # Refused: the credentials will not be answered for (expired, say). What
            # is known stands; asked again much later.
            entry.retry_at = now + self.refused_retry
            if entry.identity is None:
                entry.identity = known_identity(credentials)
                entry.refresh_at = entry.retry_at
            self.generation += 1
            log.warning(
                "identity_lookup_refused",
                access_key_id=credentials.access_key,
                error=repr(exc),
                known_account=entry.identity.account_id if entry.identity else None,
            )


class CallerIdentityResolver(LookupResolver):
    """``userIdentity`` from STS ``GetCallerIdentity``, looked up off the sink's thread.

    ``endpoint_url`` says where STS is (a local moto in tests); without it each lookup
    goes to the regional STS endpoint of the recorded call's region
    (:func:`sts_region`, :func:`recorder.aws.arn.regional_endpoint`), in that region's
    partition, whose credentials the call was signed with. ``region`` pins one region
    for every lookup. The STS client is made from a bare botocore session, so the lookup
    itself is never recorded; it tries once and times out in seconds (the resolver
    retries on its own schedule).
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url
        self.region = region
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.now = now
        self._session: Any = None
        self._session_lock = threading.Lock()

    def _reset(self, *, fork: bool = False) -> None:
        super()._reset(fork=fork)
        # botocore's session and our lock over it: the parent's lookup thread may have
        # held the lock at the fork; the child makes its own session
        self._session = None
        self._session_lock = threading.Lock()

    def endpoint(self, client_region: str | None) -> tuple[str, str]:
        """(signing region, endpoint URL) of the lookup for a call of ``client_region``."""
        region = self.region or sts_region(client_region)
        return region, self.endpoint_url or regional_endpoint("sts", region)

    def _lookup(self, credentials: Credentials, region: str | None) -> Identity:
        answer = self._get_caller_identity(credentials, *self.endpoint(region))
        return identity_from_caller(
            answer["Arn"],
            answer["UserId"],
            answer["Account"],
            credentials.access_key,
            now=self.now(),
        )

    def _get_caller_identity(
        self, credentials: Credentials, region: str, endpoint_url: str
    ) -> dict[str, Any]:
        import botocore.session
        from botocore.config import Config

        with self._session_lock:  # making clients from one session is not thread-safe
            if self._session is None:
                self._session = botocore.session.Session()
            client = self._session.create_client(
                "sts",
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key,
                aws_session_token=credentials.token,
                config=Config(
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                    retries={"total_max_attempts": 1},
                ),
            )
        try:
            return client.get_caller_identity()  # type: ignore[no-any-return]
        finally:
            client.close()
