"""CreateChannel, GetChannel, ListChannels and DeleteChannel for ``Custom`` channels.

A channel is where an application's ``PutAuditEvents`` calls come in (the CloudTrail
API reference; "Create an integration with a custom source"). It belongs to the
account and Region that created it, and is reached by its ARN
(``arn:<partition>:cloudtrail:<region>:<account>:channel/<uuid>``) or, in its Region,
by the UUID alone. Another account's channel answers like an absent one.

recorder has no event data stores: a channel's events go to the account's trails whose
advanced event selectors select ``eventCategory`` ``ActivityAuditLog`` (the one
routing rule, :mod:`recorder.selectors`). ``Destinations`` are kept as given and shown
again, so a client that creates a channel as it would on AWS works unchanged.

Channels are stored on the ``trails`` topic under their ARN, written under the
account's lease like trails (:meth:`recorder.api.store.TrailStore.put_channel`).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recorder.api.protocol import ApiError
from recorder.aws.arn import arn_or_none, partition_for

if TYPE_CHECKING:
    from recorder.api.operations import Caller
    from recorder.api.store import TrailStore

CUSTOM = "Custom"
#: recorder's bound on an account's channels in a Region (AWS's quota has no number in
#: its model; each channel is a document every reader of ``trails`` holds).
MAX_CHANNELS = 25
_NAME = re.compile(r"[a-zA-Z0-9._\-]{3,128}")
_LOCATION = re.compile(r"[a-zA-Z0-9._/\-:*]{3,1024}")
_CHANNEL_ID = re.compile(r"[a-f0-9\-]{36}")

#: Operations that change nothing.
READ_ONLY = frozenset({"GetChannel", "ListChannels"})


def channel_arn(region: str, account_id: str, channel_id: str) -> str:
    return f"arn:{partition_for(region)}:cloudtrail:{region}:{account_id}:channel/{channel_id}"


def resolve(store: TrailStore, caller: Caller, given: str) -> dict[str, Any]:
    """The caller's channel named by ARN or UUID: ``ChannelARNInvalidException`` for
    neither form, ``ChannelNotFoundException`` for no such channel of the caller's."""
    arn = _arn_of(caller, given)
    if arn is None:
        raise ApiError("ChannelARNInvalidException", f"Channel ARN {given[:256]} is not valid.")
    found = store.channel(arn)
    if found is None or arn_or_none(arn).account != caller.account_id:  # type: ignore[union-attr]
        raise ApiError("ChannelNotFoundException", f"Channel {given[:256]} was not found.")
    return found


def _in_region(store: TrailStore, caller: Caller) -> list[dict[str, Any]]:
    """The caller's channels of the caller's Region, oldest ARN first."""
    return [
        c
        for c in store.account_channels(caller.account_id)
        if c["ChannelArn"].split(":")[3] == caller.region
    ]


def _arn_of(caller: Caller, given: str) -> str | None:
    if _CHANNEL_ID.fullmatch(given):
        return channel_arn(caller.region, caller.account_id, given)
    arn = arn_or_none(given)
    if arn is None or arn.service != "cloudtrail" or not arn.resource.startswith("channel/"):
        return None
    if not _CHANNEL_ID.fullmatch(arn.resource[len("channel/") :]):
        return None
    return given


async def create_channel(store: TrailStore, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
    name = p["Name"]
    if not _NAME.fullmatch(name):
        raise ApiError(
            "InvalidParameterException",
            f"Channel name {name[:128]!r} is invalid: 3 to 128 characters of "
            "letters, digits, periods, underscores and hyphens.",
        )
    if p["Source"] != CUSTOM:
        raise ApiError(
            "InvalidSourceException",
            f"Source {p['Source'][:256]!r} is not supported: this endpoint takes Custom channels "
            "only (partner integrations need the partner's CloudTrail Lake onboarding).",
        )
    destinations = [_destination(d) for d in p["Destinations"]]
    own = _in_region(store, caller)
    if any(c["Name"] == name for c in own):
        raise ApiError("ChannelAlreadyExistsException", f"Channel {name} already exists.")
    if len(own) >= MAX_CHANNELS:
        raise ApiError(
            "ChannelMaxLimitExceededException",
            f"The account has the most channels it may have in {caller.region} ({MAX_CHANNELS}).",
        )
    arn = channel_arn(caller.region, caller.account_id, str(uuid.uuid4()))
    document = {
        "ChannelArn": arn,
        "Name": name,
        "Source": CUSTOM,
        "Destinations": destinations,
        "Tags": [dict(t) for t in p.get("Tags", [])],
    }
    await store.put_channel(arn, document)
    return document


def _destination(d: dict[str, Any]) -> dict[str, str]:
    if d["Type"] != "EVENT_DATA_STORE":
        raise ApiError(
            "InvalidParameterException",
            f"Destination type {d['Type']} is for service-linked channels; a Custom channel's "
            "destinations are EVENT_DATA_STORE.",
        )
    if not _LOCATION.fullmatch(d["Location"]):
        raise ApiError(
            "EventDataStoreARNInvalidException",
            f"Destination location {d['Location'][:1024]} is not a valid event data store ARN.",
        )
    return {"Type": d["Type"], "Location": d["Location"]}


async def get_channel(
    store: TrailStore,
    caller: Caller,
    p: dict[str, Any],
    ingestion: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    found = resolve(store, caller, p["Channel"])
    return {**found, "IngestionStatus": (ingestion or {}).get(found["ChannelArn"], {})}


async def list_channels(
    store: TrailStore, caller: Caller, p: dict[str, Any], page_size: int
) -> dict[str, Any]:
    channels = _in_region(store, caller)
    start = 0
    token = p.get("NextToken")
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            after = ""
        arns = [c["ChannelArn"] for c in channels]
        if after not in arns:
            raise ApiError("InvalidNextTokenException", "The NextToken is not valid.")
        start = arns.index(after) + 1
    size = int(p.get("MaxResults") or page_size)
    page = channels[start : start + size]
    out: dict[str, Any] = {
        "Channels": [{"ChannelArn": c["ChannelArn"], "Name": c["Name"]} for c in page]
    }
    if start + size < len(channels):
        out["NextToken"] = base64.urlsafe_b64encode(page[-1]["ChannelArn"].encode()).decode()
    return out


async def delete_channel(store: TrailStore, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
    found = resolve(store, caller, p["Channel"])
    await store.put_channel(found["ChannelArn"], None)
    return {}
