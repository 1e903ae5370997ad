"""Who made a call, from the credentials that signed it: CloudTrail's ``userIdentity``.

A producer must say whose events it records, or every event would land in some
default account's trails. ``CallerIdentityResolver`` asks STS ``GetCallerIdentity``
once per credential set (access key, secret, session token) and caches the answer,
so the identity is the one AWS itself attributes to those credentials. It runs on
the sink's thread, never on the thread making the recorded call.

``identity_from_caller`` is the pure part: the ARN STS returns says the identity's
type (guide line 11795): ``user/`` an ``IAMUser``, ``assumed-role/`` an
``AssumedRole`` with a ``sessionContext`` naming the role that issued it,
``federated-user/`` a ``FederatedUser``, ``root`` the account's ``Root``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from recorder.aws.arn import arn_or_none
from recorder.aws.times import format_seconds
from recorder.producer.record import Identity


class Credentials(NamedTuple):
    """The frozen credentials a call was signed with (botocore's ``ReadOnlyCredentials``)."""

    access_key: str
    secret_key: str
    token: str | None


class IdentityResolver(Protocol):
    def __call__(self, credentials: Credentials | None) -> Identity: ...


class StaticIdentity:
    """One identity for every call: for a producer whose credentials STS cannot see."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

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


class CallerIdentityResolver:
    """``userIdentity`` from STS ``GetCallerIdentity``, once per credential set, cached.

    ``endpoint_url``/``region`` say where STS is (a local moto in tests; the regional
    endpoint by default). The STS client used here is made from a bare botocore
    session, so the lookup itself is never recorded. A failed lookup raises; the sink
    keeps the event and tries again later. The cache keeps the ``cache_size`` most
    recently used credential sets (temporary credentials rotate, so it must be bounded).
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        cache_size: int = 1024,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.cache_size = cache_size
        self.clock = clock
        self._cache: OrderedDict[Credentials, Identity] = OrderedDict()
        self._lock = threading.Lock()
        self.lookups = 0

    def __call__(self, credentials: Credentials | None) -> Identity:
        if credentials is None:
            raise LookupError("the call was not signed: no credentials to resolve")
        with self._lock:
            cached = self._cache.get(credentials)
            if cached is not None:
                self._cache.move_to_end(credentials)
                return cached
        answer = self._get_caller_identity(credentials)
        self.lookups += 1
        identity = identity_from_caller(
            answer["Arn"],
            answer["UserId"],
            answer["Account"],
            credentials.access_key,
            now=self.clock(),
        )
        with self._lock:
            self._cache[credentials] = identity
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return identity

    def _get_caller_identity(self, credentials: Credentials) -> dict[str, Any]:
        import botocore.session

        client = botocore.session.Session().create_client(
            "sts",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
        )
        try:
            return client.get_caller_identity()  # type: ignore[no-any-return]
        finally:
            client.close()
