"""Where a routed record is delivered: the one value type routing, delivery, the
digester and Insights share for (trail, account folder, region[, organization]).

It is also the Kafka key of `routed` (one destination, one partition) and, through
:meth:`Destination.digest_key`, the key of the digest chain its files belong to. A
digest chain is a destination of the plain kind; on ``delivered`` and in the digester's
state it is written in one four-field JSON form (:meth:`Destination.to_json`).

The kind says which folder of the trail's account the files go to (AWS's "Finding your
CloudTrail log files"): ``CloudTrail`` for management and data events,
``CloudTrail-Insight``, ``CloudTrail-NetworkActivity`` and ``CloudTrail-Aggregated``.
Every kind's files are listed in the trail's one digest chain per (account, region).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.aws.arn import parse_trail_arn

#: Destination kinds: the suffix of the folder (``CloudTrail-<kind>``); events: none.
EVENTS = ""
INSIGHT = "Insight"
NETWORK_ACTIVITY = "NetworkActivity"
AGGREGATED = "Aggregated"
KINDS = frozenset({INSIGHT, NETWORK_ACTIVITY, AGGREGATED})
#: The kind a routed event's own ``eventCategory`` gives (others: EVENTS). Insights
#: and aggregated events are made by stages that name their kind themselves.
_CATEGORY_KINDS = {"NetworkActivity": NETWORK_ACTIVITY}


def kind_of_category(category: str) -> str:
    """The folder kind of a routed event of ``eventCategory`` ``category``."""
    return _CATEGORY_KINDS.get(category, EVENTS)


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
    kind: str = EVENTS  # which folder: EVENTS, INSIGHT, NETWORK_ACTIVITY, AGGREGATED

    def key(self) -> bytes:
        """The Kafka key of routed records: one destination, one partition."""
        parts = (self.trail_arn, self.account_id, self.region, self.org_id or "")
        return "|".join((*parts, self.kind) if self.kind else parts).encode()

    def digest_key(self) -> bytes:
        """The key of the digest chain the destination's files belong to: files of every
        kind are in the (trail, account, region) chain of the trail's event files."""
        return "|".join((self.trail_arn, self.account_id, self.region, self.org_id or "")).encode()

    @property
    def insight(self) -> bool:
        return self.kind == INSIGHT

    @property
    def folder(self) -> str:
        return f"CloudTrail-{self.kind}" if self.kind else "CloudTrail"

    @property
    def trail_name(self) -> str:
        return parse_trail_arn(self.trail_arn).name

    @property
    def home_region(self) -> str:
        return parse_trail_arn(self.trail_arn).region

    @classmethod
    def from_key(cls, raw: bytes) -> Destination:
        parts = raw.decode().split("|")
        kind = parts[4] if len(parts) == 5 and parts[4] in KINDS else EVENTS
        if len(parts) != (5 if kind else 4) or not all(parts[:3]):
            raise ValueError(f"not a destination key: {raw[:200]!r}")
        return cls(parts[0], parts[1], parts[2], parts[3] or None, kind)

    def to_json(self) -> dict[str, Any]:
        """The four-field form of ``delivered`` manifests, window markers and digest
        chain state. The kind is not in it: it names the digest chain."""
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
