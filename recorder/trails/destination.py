"""Where a routed record is delivered: the one value type routing, delivery, the
digester and Insights share for (trail, account folder, region[, organization]).

It is also the Kafka key of `routed` (one destination, one partition) and, through
:meth:`Destination.digest_key`, the key of the digest chain its files belong to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    """Where a routed record is delivered: one trail, one account folder, one region."""

    trail_arn: str
    account_id: str
    region: str
    org_id: str | None = None
    insight: bool = False  # Insights events: the CloudTrail-Insight folder

    def key(self) -> bytes:
        """The Kafka key of routed records: one destination, one partition."""
        parts = (self.trail_arn, self.account_id, self.region, self.org_id or "")
        return "|".join((*parts, INSIGHT) if self.insight else parts).encode()

    def digest_key(self) -> bytes:
        """The key of the digest chain the destination's files belong to: Insights
        files are in the (trail, account, region) chain of the trail's other files."""
        return "|".join((self.trail_arn, self.account_id, self.region, self.org_id or "")).encode()

    @property
    def folder(self) -> str:
        return "CloudTrail-Insight" if self.insight else "CloudTrail"

    @classmethod
    def from_key(cls, raw: bytes) -> Destination:
        parts = raw.decode().split("|")
        insight = len(parts) == 5 and parts[4] == INSIGHT
        if len(parts) != (5 if insight else 4) or not all(parts[:3]):
            raise ValueError(f"not a destination key: {raw[:200]!r}")
        return cls(parts[0], parts[1], parts[2], parts[3] or None, insight)


INSIGHT = "Insight"
