"""Where a routed record is delivered: the one value type routing, delivery, the
digester and Insights share for (trail, account folder, region[, organization]).

It is also the Kafka key of `routed` (one destination, one partition) and, through
:meth:`Destination.digest_key`, the key of the digest chain its files belong to. A
digest chain is a destination without the Insights flag; on ``delivered`` and in the
digester's state it is written in one four-field JSON form (:meth:`Destination.to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.aws.arn import parse_trail_arn


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    """Where a routed record is delivered: one trail, one account folder, one region.

    ``org_id`` is set for organization trails: files go under
    ``AWSLogs/<org-id>/<account>/`` (guide line 3689).
    """

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

    @property
    def trail_name(self) -> str:
        return parse_trail_arn(self.trail_arn).name

    @property
    def home_region(self) -> str:
        return parse_trail_arn(self.trail_arn).region

    @classmethod
    def from_key(cls, raw: bytes) -> Destination:
        parts = raw.decode().split("|")
        insight = len(parts) == 5 and parts[4] == INSIGHT
        if len(parts) != (5 if insight else 4) or not all(parts[:3]):
            raise ValueError(f"not a destination key: {raw[:200]!r}")
        return cls(parts[0], parts[1], parts[2], parts[3] or None, insight)

    def to_json(self) -> dict[str, Any]:
        """The four-field form of ``delivered`` manifests, window markers and digest
        chain state. The Insights flag is not in it: it names the digest chain."""
        return {
            "trailARN": self.trail_arn,
            "accountId": self.account_id,
            "region": self.region,
            "orgId": self.org_id,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Destination:
        """Reads :meth:`to_json`'s form, also inside a larger document (a manifest);
        KeyError names a missing field."""
        return cls(
            str(doc["trailARN"]),
            str(doc["accountId"]),
            str(doc["region"]),
            doc.get("orgId") or None,
        )


INSIGHT = "Insight"
