"""Organization membership read from AWS Organizations drives organization trails:
member events reach them under AWSLogs/<org-id>/<account>/ (line 3689), and a change
of membership recompiles routing."""

from __future__ import annotations

import pytest

from recorder.services.registry import TrailRegistry
from recorder.settings import Settings
from recorder.trails import Trail
from recorder.trails.organizations import Organization
from tests.unit.routing.guide_cases import MEMBER, ORG, YOU, record, trail

DESCRIBE = {"Id": ORG, "MasterAccountId": YOU, "Arn": "arn:aws:organizations::x"}


def test_from_the_organizations_api() -> None:
    org = Organization.from_api(
        DESCRIBE,
        [
            {"Id": YOU, "Status": "ACTIVE"},
            {"Id": MEMBER, "Status": "ACTIVE"},
            {"Id": "666666666666", "Status": "SUSPENDED"},
        ],
    )
    assert org.accounts == {YOU, MEMBER}
    assert org.account_map() == {YOU: ORG, MEMBER: ORG}
    with pytest.raises(ValueError):
        Organization.from_api({"Id": "not-an-org", "MasterAccountId": YOU}, [])
    with pytest.raises(ValueError):
        Organization.from_api(DESCRIBE, [{"Id": "12"}])


async def test_membership_change_recompiles_routing() -> None:
    registry = TrailRegistry(Settings.from_env({}))
    org_trail = Trail.from_api(trail("MyOrganizationTrail", YOU, IsOrganizationTrail=True))
    await registry.replace([org_trail], {})
    member_event = record("ec2.amazonaws.com", "RunInstances", "e-1", account=MEMBER)
    assert registry.engine().route(member_event) == []  # no organization known yet
    await registry.set_organization(Organization.from_api(DESCRIBE, [{"Id": MEMBER}]))
    [delivery] = registry.engine().route(member_event)
    assert (delivery.trail_arn, delivery.account_id, delivery.org_id) == (
        org_trail.trail_arn,
        MEMBER,
        ORG,
    )
    assert registry.management_account_of(ORG) == YOU
    await registry.set_organization(Organization.from_api(DESCRIBE, []))  # the member left
    assert registry.engine().route(member_event) == []
