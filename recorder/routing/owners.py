"""The cross-account rule for S3 data events (lines 4826-4850), with owners the operator
vouches for.

"If you own an S3 object and you specify it in your trail, your trail also logs events
when other accounts call the object"; "if ... another account owns the object, your
trail only logs events that occur on that object in your account." So an S3 data event
is evaluated once for the account it occurred in, with all its resources, and once for
each other account owning one of its objects, with only that owner's resources.

Who owns a bucket is never taken from the record: a record comes from a tenant's
producer, and a request parameter such as ``ExpectedBucketOwner`` (or a resource's
``accountId``) would let one tenant write into another's trails. Owners come from
sources the operator controls (:class:`BucketOwners`): the owners file
(``RECORDER_BUCKET_OWNERS_FILE``, ``{"bucket": "account id"}``), and the trails' own
buckets: a bucket that the trails of exactly one account deliver to is that
account's (a bucket shared by several accounts' trails, a central log archive, is
nobody's until the owners file names its owner, which then wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from recorder.selectors import Event, Resource, event_from_record
from recorder.trails import Trail

S3_SOURCE = "s3.amazonaws.com"
S3_BUCKET = "AWS::S3::Bucket"
S3_OBJECT = "AWS::S3::Object"
_ACCOUNT = re.compile(r"\d{12}")


def _bucket(arn: str) -> str:
    return arn.split(":::", 1)[-1].split("/", 1)[0]


@dataclass(frozen=True)
class BucketOwners:
    """Bucket name -> owning account, from operator-controlled sources only."""

    by_bucket: Mapping[str, str] = field(default_factory=dict)

    def owner(self, bucket: str) -> str | None:
        return self.by_bucket.get(bucket)

    def __bool__(self) -> bool:
        return bool(self.by_bucket)

    @classmethod
    def of(cls, trails: Iterable[Trail], declared: Mapping[str, str] | None = None) -> BucketOwners:
        """The trails' own buckets (each named by one account's trails only), under the
        operator's declared owners."""
        claims: dict[str, set[str]] = {}
        for t in trails:
            claims.setdefault(t.s3_bucket_name, set()).add(t.account_id)
        owners = {b: next(iter(a)) for b, a in claims.items() if len(a) == 1}
        owners.update(declared or {})
        return cls(owners)


def load_owners_file(path: Path) -> dict[str, str]:
    """The owners file: ``{"bucket-name": "111122223333", ...}``; ValueError naming the
    first bad entry."""
    try:
        doc: Any = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f'{path}: expected {{"bucket": "account id", ...}}')
    for bucket, account in doc.items():
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise ValueError(f"{path}: the owner of {bucket!r} must be a 12-digit account id")
    return dict(doc)


NO_OWNERS = BucketOwners()


def foreign_owners(
    event: Event, owners: BucketOwners = NO_OWNERS
) -> dict[str, tuple[Resource, ...]]:
    """Other accounts owning S3 resources of a data event -> the resources they own."""
    if event.category != "Data" or event.source != S3_SOURCE or not owners:
        return {}
    owned: dict[str, list[Resource]] = {}
    for r in event.resources:
        if r.type not in (S3_BUCKET, S3_OBJECT):
            continue
        owner = owners.owner(_bucket(r.arn))
        if owner and owner != event.account_id:
            owned.setdefault(owner, []).append(r)
    return {owner: tuple(rs) for owner, rs in owned.items()}


def reaches_other_accounts(record: Mapping[str, Any], owners: BucketOwners = NO_OWNERS) -> bool:
    """Whether the action is delivered to an account besides the one it occurred in (an
    S3 data event on another account's object): then its copies share an event id."""
    if record.get("eventSource") != S3_SOURCE or record.get("eventCategory") != "Data":
        return False
    return bool(foreign_owners(event_from_record(record), owners))


def with_known_owners(record: dict[str, Any], owners: BucketOwners) -> dict[str, Any]:
    """The record with each S3 bucket resource's ``accountId`` the owner the operator
    vouches for, where known (as AWS writes the bucket owner there); unchanged else."""
    resources = record.get("resources")
    if not owners or record.get("eventSource") != S3_SOURCE or not isinstance(resources, list):
        return record
    changed = False
    out = []
    for r in resources:
        if isinstance(r, dict) and r.get("type") == S3_BUCKET and isinstance(r.get("ARN"), str):
            owner = owners.owner(_bucket(r["ARN"]))
            if owner is not None and r.get("accountId") != owner:
                r = {**r, "accountId": owner}
                changed = True
        out.append(r)
    return {**record, "resources": out} if changed else record
