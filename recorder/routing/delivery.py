"""The routing engine's output: one trail, one account folder, one region."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Delivery:
    """``org_id`` is set for organization trails: files go under
    ``AWSLogs/<org-id>/<account>/`` (line 3689)."""

    trail_arn: str
    account_id: str
    region: str
    org_id: str | None = None

    def to_json(self) -> dict[str, str]:
        """The shape ``recorder route`` prints."""
        out = {"trailARN": self.trail_arn, "accountId": self.account_id, "region": self.region}
        if self.org_id is not None:
            out["organizationId"] = self.org_id
        return out
