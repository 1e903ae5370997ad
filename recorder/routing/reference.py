"""Reference routing: every trail, every selector, in the order the guide tells it.

The specification :class:`RoutingEngine` is property-tested and benchmarked against;
it shares only the record reading, the global-service list, the S3 owner rule and
the partition a trail is in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recorder.aws.arn import partition_for
from recorder.events.regions import delivery_region, is_global_service_event
from recorder.routing.engine import event_second, trail_partition
from recorder.routing.owners import BucketOwners, foreign_owners
from recorder.selectors import event_from_record, trail_matches
from recorder.trails import Trail
from recorder.trails.destination import Destination, kind_of_category


def reference_route(
    trails: Sequence[Trail],
    organizations: Mapping[str, str],
    record: Mapping[str, Any],
    produced_ms: int | None = None,
    bucket_owners: Mapping[str, str] | None = None,
) -> list[Destination]:
    event = event_from_record(record)
    owners = BucketOwners.of(trails, bucket_owners)
    is_global = is_global_service_event(record)
    region = delivery_region(event.region, is_global)
    partition = partition_for(event.region)
    # The event is evaluated in the account it occurred in, and in each other account
    # owning an S3 object it touched, with that owner's objects only (line 4826).
    views = [(event.account_id, event)]
    views += [(o, event.with_resources(rs)) for o, rs in foreign_owners(event, owners).items()]
    out: set[Destination] = set()
    for trail in trails:
        if trail.logging_periods:
            if not trail.logging_at(event_second(record), produced_ms):
                continue
        elif not trail.is_logging:
            continue
        owner_org = organizations.get(trail.account_id) if trail.is_organization_trail else None
        for account, view in views:
            if owner_org is not None:
                if organizations.get(account) != owner_org:
                    continue
            elif account != trail.account_id:
                continue
            if trail_partition(trail) != partition:
                continue  # partitions share nothing: another's events are unknown here
            if is_global:
                if not trail.include_global_service_events:
                    continue
            elif not (trail.is_multi_region_trail or trail.home_region == event.region):
                continue
            if trail_matches(trail, view):
                out.add(
                    Destination(
                        trail.trail_arn, account, region, owner_org, kind_of_category(view.category)
                    )
                )
    return sorted(out)
