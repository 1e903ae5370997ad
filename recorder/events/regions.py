"""Where an event is delivered: its own region, or its partition's global region
(us-east-1 in aws, cn-north-1 in aws-cn, us-gov-west-1 in aws-us-gov: where IAM's
endpoint signs) for global services.

"For global services such as IAM, AWS STS, and Amazon CloudFront, events are delivered
to any trail that includes global services, and are logged as occurring in US East
(N. Virginia) Region" (line 511); console sign-in is one too (line 1517), as are
Route 53, Organizations and WAF classic (``waf``; ``waf-regional`` is regional), whose
APIs have only a us-east-1 endpoint.

STS has a global endpoint and regional ones (line 503): an event from a regional
endpoint is delivered in its region like any other. A record tells the two apart by
``tlsDetails.clientProvidedHostHeader`` when it has one (``sts.amazonaws.com`` is the
global endpoint, ``sts.<region>.amazonaws.com`` a regional one); without it, by its
region: the global endpoint is logged in us-east-1, so an STS event of any other
region came from a regional endpoint, and one of us-east-1 is taken as global.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.aws.arn import partition_of_region

#: The aws partition's global region (each partition's: :func:`global_region`).
GLOBAL_REGION = "us-east-1"
STS_SOURCE = "sts.amazonaws.com"
STS_GLOBAL_HOST = "sts.amazonaws.com"

GLOBAL_SERVICE_SOURCES: frozenset[str] = frozenset(
    {
        "iam.amazonaws.com",
        "cloudfront.amazonaws.com",
        "route53.amazonaws.com",
        "organizations.amazonaws.com",
        "signin.amazonaws.com",
        "waf.amazonaws.com",
    }
)


def global_region(region: str) -> str:
    """Where the partition of ``region`` logs its global services' events."""
    return partition_of_region(region).global_region if region else GLOBAL_REGION


def delivery_region(region: str, is_global: bool) -> str:
    """The region folder an event is delivered in."""
    return global_region(region) if is_global else region


def is_global_service_event(record: Mapping[str, Any]) -> bool:
    source = record.get("eventSource")
    if source in GLOBAL_SERVICE_SOURCES:
        return True
    if source != STS_SOURCE:
        return False
    tls = record.get("tlsDetails")
    host = tls.get("clientProvidedHostHeader") if isinstance(tls, Mapping) else None
    if isinstance(host, str) and host:
        return host.lower() == STS_GLOBAL_HOST
    region = record.get("awsRegion")
    return isinstance(region, str) and region == global_region(region)
