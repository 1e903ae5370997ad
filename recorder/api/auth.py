"""SigV4 verification of control-API requests, and the credential store behind it.

Every request must carry an ``AWS4-HMAC-SHA256`` Authorization header. We rebuild
the request the client signed (method, path, query, the headers it listed as
signed, the body) and let botocore's own :class:`~botocore.auth.SigV4Auth` compute
the canonical request, string to sign and signature, so the verifier and the
clients can never disagree on canonicalisation. The access key decides the
account: the region of the call is the credential scope's region.

Errors use the codes and wording AWS answers with, because clients and operators
match on them (``MissingAuthenticationTokenException``,
``UnrecognizedClientException``, ``IncompleteSignatureException``,
``InvalidSignatureException`` with "Signature expired: ...").

The signature always covers the body. Only Amazon S3 lets a client sign the literal
``UNSIGNED-PAYLOAD`` in place of the body's hash; every other service computes the
canonical request's *HashedPayload* from the body it received (IAM User Guide,
"Create a signed AWS API request", step 1), so a request signed over
``UNSIGNED-PAYLOAD`` fails as any other mismatch does: ``InvalidSignatureException``,
"The request signature we calculated does not match the signature you provided"
(IAM User Guide, "Troubleshoot signed requests"). Otherwise a request captured in
flight could be replayed within its five minutes with another body.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.session import get_session

from recorder.api.protocol import SERVICE_NAME, ApiError
from recorder.obs.logging import get_logger

log = get_logger("recorder.api.auth")

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: How far X-Amz-Date may be from our clock, either way (AWS: 5 minutes).
MAX_SKEW = dt.timedelta(minutes=5)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_ACCOUNT = re.compile(r"^\d{12}$")
_AUTH_PART = re.compile(r"\s*([A-Za-z]+)=([^,\s]*)\s*")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed a request: their account and IAM identity (for ``userIdentity``)."""

    access_key_id: str
    account_id: str
    user_name: str = "recorder"
    arn: str | None = None
    #: CloudTrail actions this principal may call (``DescribeTrails``, ``Get*``,
    #: ``cloudtrail:List*``); ``None`` allows every action.
    actions: tuple[str, ...] | None = None
    #: The IAM identity's unique ID (``AIDA...`` for a user, ``AROA...:session`` for a
    #: role session): ``userIdentity.principalId`` in the API's own records, the same
    #: one the hook's records carry for calls signed with this key (STS
    #: GetCallerIdentity's ``UserId``). None: the records fall back to the access key.
    principal_id: str | None = None

    @property
    def identity_arn(self) -> str:
        return self.arn or f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    def allows(self, operation: str, service: str = "cloudtrail") -> bool:
        """Whether the allow-list (if any) names ``service:operation``, IAM-style
        wildcards (an action without a service is CloudTrail's)."""
        if self.actions is None:
            return True
        wanted = f"{service}:{operation}".lower()
        return any(fnmatch.fnmatchcase(wanted, _qualified(a)) for a in self.actions)


def _qualified(action: str) -> str:
    action = action.strip().lower()
    return action if ":" in action else f"cloudtrail:{action}"


@dataclass(frozen=True, slots=True)
class Credential:
    principal: Principal
    secret_access_key: str


class CredentialStore:
    """Access key id -> secret and account, read once from a JSON file.

    File format: ``{"credentials": [{"AccessKeyId": ..., "SecretAccessKey": ...,
    "AccountId": "123456789012", "UserName": ... (optional), "Arn": ... (optional),
    "PrincipalId": "AIDA..." (optional), "Actions": ["DescribeTrails", "Get*",
    "cloudtrail:List*"] (optional)}]}``. ``UserName``, ``Arn`` and ``PrincipalId``
    name the key's IAM identity in the records the API writes of its own calls, as
    CloudTrail names it (``userIdentity``); an ``Arn`` of an assumed role
    (``arn:aws:sts::...:assumed-role/...``) records an ``AssumedRole``. ``Actions``
    limits the principal to those CloudTrail actions (a read-only auditor key); other
    calls answer ``AccessDeniedException``.
    """

    def __init__(self, credentials: Iterable[Credential]) -> None:
        self._by_key = {c.principal.access_key_id: c for c in credentials}

    @classmethod
    def default(cls) -> CredentialStore:
        """The local stack's credentials: ``testing``/``testing`` -> 123456789012."""
        return cls([Credential(Principal("testing", "123456789012", "testing"), "testing")])

    @classmethod
    def from_file(cls, path: Path) -> CredentialStore:
        return cls.from_document(orjson.loads(path.read_bytes()), source=str(path))

    @classmethod
    def from_document(cls, doc: Any, source: str = "credentials") -> CredentialStore:
        entries = doc.get("credentials") if isinstance(doc, dict) else doc
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{source}: expected {{'credentials': [...]}} with at least one entry")
        out = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict):
                raise ValueError(f"{source}: credentials[{i}] is not an object")
            try:
                key, secret, account = e["AccessKeyId"], e["SecretAccessKey"], e["AccountId"]
            except KeyError as exc:
                raise ValueError(f"{source}: credentials[{i}] has no {exc.args[0]}") from None
            if not _ACCOUNT.match(str(account)):
                raise ValueError(f"{source}: credentials[{i}].AccountId must be 12 digits")
            actions = e.get("Actions")
            if actions is not None and (
                not isinstance(actions, list) or not all(isinstance(a, str) for a in actions)
            ):
                raise ValueError(f"{source}: credentials[{i}].Actions must be a list of strings")
            for name in ("UserName", "Arn", "PrincipalId"):
                if e.get(name) is not None and not (isinstance(e[name], str) and e[name]):
                    raise ValueError(
                        f"{source}: credentials[{i}].{name} must be a non-empty string"
                    )
            arn = e.get("Arn")
            if arn is not None and not (
                arn.startswith("arn:") and arn.split(":")[4:5] == [str(account)]
            ):
                raise ValueError(
                    f"{source}: credentials[{i}].Arn must be an ARN of account {account}"
                )
            principal = Principal(
                str(key),
                str(account),
                str(e.get("UserName") or "recorder"),
                arn,
                None if actions is None else tuple(actions),
                e.get("PrincipalId"),
            )
            out.append(Credential(principal, str(secret)))
        return cls(out)

    def get(self, access_key_id: str) -> Credential | None:
        return self._by_key.get(access_key_id)

    def __len__(self) -> int:
        return len(self._by_key)


@dataclass(frozen=True, slots=True)
class Verified:
    principal: Principal
    region: str


@dataclass(frozen=True, slots=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class _ReplaySigner(SigV4Auth):
    """botocore's signer restricted to the headers the client said it signed, over the
    hash of the body as received (never the client's ``x-amz-content-sha256``)."""

    def __init__(
        self,
        credentials: Credentials,
        service: str,
        region: str,
        signed: tuple[str, ...],
        body_hash: str,
    ) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed
        self._body_hash = body_hash

    def canonical_request(self, request: AWSRequest) -> str:
        lines = str(super().canonical_request(request)).split("\n")
        lines[-1] = self._body_hash  # HashedPayload: what we received, whatever was declared
        return "\n".join(lines)

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                headers[name] = value
        return headers

    def expected_signature(self, request: AWSRequest) -> str:
        canonical = self.canonical_request(request)
        return str(self.signature(self.string_to_sign(request, canonical), request))


def _parse_authorization(header: str) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise ApiError(
            "IncompleteSignatureException",
            f"Unsupported authorization type {algorithm!r}; use {ALGORITHM}",
        )
    parts: dict[str, str] = {}
    for chunk in rest.split(","):
        m = _AUTH_PART.fullmatch(chunk)
        if m:
            parts[m.group(1)] = m.group(2)
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        raise ApiError(
            "IncompleteSignatureException",
            f"Authorization header requires '{missing[0]}' parameter. "
            f"Authorization={header.strip()[:200]}",
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise ApiError(
            "IncompleteSignatureException",
            "Credential should be scoped to a valid region, service and 'aws4_request'",
        )
    key, date, region, service, _ = scope
    signed = tuple(h.strip().lower() for h in parts["SignedHeaders"].split(";") if h.strip())
    return _Authorization(key, date, region, service, signed, parts["Signature"].lower())


@functools.cache
def known_regions(partition: str | None = None) -> frozenset[str]:
    """Every region CloudTrail has an endpoint in, from botocore's endpoint data; only
    those of ``partition`` when one is given.

    A request signed for any other region is refused: it would otherwise create
    trails under ARNs of a region that does not exist, or of a partition whose
    buckets, topics and keys this deployment's identity can never reach."""
    session = get_session()
    regions: set[str] = set()
    for name in session.get_available_partitions():
        if partition is None or name == partition:
            regions.update(session.get_available_regions(SERVICE_NAME, name))
    return frozenset(regions)


def check_clock(amz_date: str, now: dt.datetime) -> None:
    """Reject a request signed more than :data:`MAX_SKEW` away from ``now``."""
    try:
        signed_at = dt.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        ) from None

    def fmt(t: dt.datetime) -> str:
        return t.strftime(AMZ_DATE_FORMAT)

    if signed_at < now - MAX_SKEW:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {fmt(now - MAX_SKEW)} "
            f"({fmt(now)} - 5 min.)",
        )
    if signed_at > now + MAX_SKEW:
        raise ApiError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {fmt(now + MAX_SKEW)} "
            f"({fmt(now)} + 5 min.)",
        )


def verify(
    store: CredentialStore,
    *,
    method: str,
    path_qs: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes,
    now: dt.datetime | None = None,
    service: str = SERVICE_NAME,
    partition: str | None = None,
) -> Verified:
    """Check a request's SigV4 signature; return who signed it and for which region.

    ``path_qs`` is the raw path and query as received; ``headers`` every received
    header (repeated names allowed as pairs); ``service`` the signing name the
    credential scope must name (``cloudtrail``, or ``cloudtrail-data`` for
    PutAuditEvents); ``partition`` the one partition whose regions this deployment
    serves (its writer's identity exists in that partition only).
    """
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    lower: dict[str, list[str]] = {}
    for name, value in pairs:
        lower.setdefault(name.lower(), []).append(value)
    authorization = (lower.get("authorization") or [""])[0]
    if not authorization.strip():
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
    auth = _parse_authorization(authorization)
    credential = store.get(auth.access_key_id)
    if credential is None:
        raise ApiError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    amz_date = (lower.get("x-amz-date") or [""])[0].strip()
    if not amz_date:
        raise ApiError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    if "host" not in auth.signed_headers:
        raise ApiError(
            "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."
        )
    if "x-amz-date" not in auth.signed_headers:
        raise ApiError(
            "InvalidSignatureException",
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        )
    check_clock(amz_date, now or dt.datetime.now(dt.UTC))
    if auth.date != amz_date[:8]:
        raise ApiError(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    if auth.region not in known_regions():
        raise ApiError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{auth.region}'. ",
        )
    if partition is not None and auth.region not in known_regions(partition):
        raise ApiError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{auth.region}'. "
            f"This endpoint serves the regions of partition {partition}.",
        )
    if auth.service != service:
        raise ApiError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    body_hash = hashlib.sha256(body).hexdigest()
    declared = (lower.get("x-amz-content-sha256") or [""])[0].strip()
    if declared and declared != UNSIGNED_PAYLOAD and declared != body_hash:
        raise ApiError(
            "InvalidSignatureException",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )

    request = AWSRequest(method=method.upper(), url=f"http://signed{path_qs}", data=body)
    for name in auth.signed_headers:
        for value in lower.get(name, []):
            request.headers.add_header(name, value)  # type: ignore[no-untyped-call]
    request.context["timestamp"] = amz_date
    creds = Credentials(auth.access_key_id, credential.secret_access_key)
    signer = _ReplaySigner(creds, auth.service, auth.region, auth.signed_headers, body_hash)
    expected = signer.expected_signature(request)
    if not hmac.compare_digest(expected, auth.signature):
        if declared == UNSIGNED_PAYLOAD:
            log.info("api_unsigned_payload_refused", access_key_id=auth.access_key_id)
        raise ApiError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        )
    return Verified(credential.principal, auth.region)
