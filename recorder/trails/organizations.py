"""Organizations as organization trails see them: an id, its management account, and
its member accounts, read from AWS Organizations (DescribeOrganization, ListAccounts).

An organization trail "will log all events for all AWS accounts in that organization"
(guide line 3674): the management account's and every member's, each in its own
folder ``AWSLogs/<org-id>/<account>/``. Only the management account creates or
changes one (line 217); members see it but cannot change it (lines 392, 3683). An
account added to the organization is logged from then on, a removed one no longer
(line 3687): membership is refreshed, never written down by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
_ACCOUNT = re.compile(r"\d{12}")


@dataclass(frozen=True, slots=True)
class Organization:
    org_id: str
    management_account_id: str
    accounts: frozenset[str]  # every account of the organization, management included

    @classmethod
    def from_api(
        cls, describe: Mapping[str, Any], accounts: Iterable[Mapping[str, Any]]
    ) -> Organization:
        """From DescribeOrganization's ``Organization`` and ListAccounts' ``Accounts``
        (all pages). Suspended and closed accounts are no longer logged; an account
        whose ``Status`` is absent is taken as active. ValueError on a malformed
        answer, so that a bad read never replaces a good membership."""
        org_id = describe.get("Id")
        management = describe.get("MasterAccountId")
        if not isinstance(org_id, str) or _ORG_ID.fullmatch(org_id) is None:
            raise ValueError(f"not an organization id: {org_id!r}")
        if not isinstance(management, str) or _ACCOUNT.fullmatch(management) is None:
            raise ValueError(f"not a management account id: {management!r}")
        members = {management}
        for a in accounts:
            account = a.get("Id")
            if not isinstance(account, str) or _ACCOUNT.fullmatch(account) is None:
                raise ValueError(f"not an account id: {account!r}")
            if a.get("Status", "ACTIVE") == "ACTIVE":
                members.add(account)
        return cls(org_id, management, frozenset(members))

    def account_map(self) -> dict[str, str]:
        """Account id -> organization id, the shape routing takes."""
        return dict.fromkeys(sorted(self.accounts), self.org_id)
