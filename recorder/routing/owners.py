"""The cross-account rule for S3 data events (lines 4826-4850).

"If you own an S3 object and you specify it in your trail, your trail also logs events
when other accounts call the object"; "if ... another account owns the object, your
trail only logs events that occur on that object in your account." So an S3 data event
is evaluated once for the account it occurred in, with all its resources, and once for
each other account owning one of its objects, with only that owner's resources.

The owner of a resource is its ``accountId``; an object without one belongs to the
owner of its bucket, the ``accountId`` of the ``AWS::S3::Bucket`` resource naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.selectors import Event, Resource, event_from_record

S3_SOURCE = "s3.amazonaws.com"
S3_BUCKET = "AWS::S3::Bucket"
S3_OBJECT = "AWS::S3::Object"


def _bucket(arn: str) -> str:
    return arn.split(":::", 1)[-1].split("/", 1)[0]


def foreign_owners(event: Event) -> dict[str, tuple[Resource, ...]]:
    """Other accounts owning S3 resources of a data event -> the resources they own."""
    if event.category != "Data" or event.source != S3_SOURCE:
        return {}
    bucket_owner = {_bucket(r.arn): r.account_id for r in event.resources if r.type == S3_BUCKET}
    owned: dict[str, list[Resource]] = {}
    for r in event.resources:
        if r.type not in (S3_BUCKET, S3_OBJECT):
            continue
        owner = r.account_id or bucket_owner.get(_bucket(r.arn))
        if owner and owner != event.account_id:
            owned.setdefault(owner, []).append(r)
    return {owner: tuple(rs) for owner, rs in owned.items()}


def reaches_other_accounts(record: Mapping[str, Any]) -> bool:
    """Whether the action is delivered to an account besides the one it occurred in (an
    S3 data event on another account's object): then its copies share an event id."""
    if record.get("eventSource") != S3_SOURCE or record.get("eventCategory") != "Data":
        return False
    return bool(foreign_owners(event_from_record(record)))
