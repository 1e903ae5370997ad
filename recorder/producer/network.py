"""Network activity events: what a call through a VPC endpoint adds. Pure: no I/O.

AWS ("Understanding CloudTrail events", network activity events; "CloudTrail record
contents"): a call that traverses a VPC endpoint is recorded for the caller as usual,
with ``vpcEndpointId`` and ``vpcEndpointAccountId``, and, for the endpoint's owner, as
a network activity event: ``eventType`` ``AwsVpceEvent``, ``eventCategory``
``NetworkActivity``, ``recipientAccountId`` the endpoint owner, one ``sharedEventID``
with the caller's record. It carries no user agent, request or response: only who
called what, from where, through which endpoint. A caller from another account than
the endpoint owner is shown as ``AWSAccount`` with its account and access key only.
A request the endpoint's policy refused has ``errorCode`` ``VpceAccessDenied`` and
always the message ``The request was denied due to a VPC endpoint policy``.

The hook knows a VPC endpoint by the endpoint URL's host: the interface endpoint DNS
names ``vpce-<id>-<suffix>[-<zone>].<service>.<region>.vpce.amazonaws.com`` (and
``<bucket>.vpce-...`` for S3). A client that reaches an endpoint through private DNS
under the service's public name cannot be told apart, and is recorded without.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The eventVersion of AWS's network activity examples.
NETWORK_EVENT_VERSION = "1.09"
#: The one network activity error code, and its one message (record contents page).
VPCE_ACCESS_DENIED = "VpceAccessDenied"
VPCE_DENIED_MESSAGE = "The request was denied due to a VPC endpoint policy"
#: The access-denied codes services answer with; IAM's message for a refusal by an
#: endpoint policy names it ("... because no VPC endpoint policy allows ...", "...
#: with an explicit deny in a VPC endpoint policy").
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})

_VPCE_HOST = re.compile(
    r"(?:^|\.)(vpce-[0-9a-f]{8,17})(?:-[0-9a-z]+)*\.[a-z0-9-]+\.[a-z0-9-]+\."
    r"vpce\.amazonaws\.com(?:\.cn)?\.?$"
)


def vpc_endpoint_id(host: str | None) -> str | None:
    """The VPC endpoint a request to ``host`` traverses, if its name says so."""
    if not host or "vpce-" not in host:
        return None
    match = _VPCE_HOST.search(host.lower())
    return match[1] if match else None


def denied_by_endpoint_policy(error_code: str | None, error_message: str | None) -> bool:
    return error_code in _ACCESS_DENIED and "vpc endpoint polic" in (error_message or "").lower()


def network_activity_record(api: Mapping[str, Any], event_id: str) -> dict[str, Any]:
    """The endpoint owner's record of the call ``api`` is the caller's record of (it
    carries ``vpcEndpointId``, ``vpcEndpointAccountId`` and ``sharedEventID``)."""
    owner = api["vpcEndpointAccountId"]
    identity = dict(api["userIdentity"])
    if identity.get("accountId") != owner:
        identity = {
            "type": "AWSAccount",
            "principalId": identity.get("accessKeyId") or identity.get("principalId"),
            "accountId": identity.get("accountId"),
        }
    out: dict[str, Any] = {
        "eventVersion": NETWORK_EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": api["eventTime"],
        "eventSource": api["eventSource"],
        "eventName": api["eventName"],
        "awsRegion": api["awsRegion"],
        "sourceIPAddress": api["sourceIPAddress"],
    }
    if denied_by_endpoint_policy(api.get("errorCode"), api.get("errorMessage")):
        out["errorCode"] = VPCE_ACCESS_DENIED
        out["errorMessage"] = VPCE_DENIED_MESSAGE
    if api.get("requestID"):
        out["requestID"] = api["requestID"]
    out["eventID"] = event_id
    out["eventType"] = "AwsVpceEvent"
    out["recipientAccountId"] = owner
    out["sharedEventID"] = api["sharedEventID"]
    out["vpcEndpointId"] = api["vpcEndpointId"]
    out["vpcEndpointAccountId"] = owner
    out["eventCategory"] = "NetworkActivity"
    return out
