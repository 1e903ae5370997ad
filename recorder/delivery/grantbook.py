"""When the writer checks a destination's grants, and what it last found. Pure.

The writer acts with recorder's own identity, so the owner of a bucket, topic or key
could revoke CloudTrail's grant after CreateTrail checked it; recorder must then stop
writing there, as AWS would refuse CloudTrail. The writer re-reads the policy before
its first delivery to a destination, then once every ``interval`` seconds (0: never
again on its own), and on every retry of a parked destination whose last answer was a
denial: a parked destination is never kept parked on an answer from the cache alone.

A policy that cannot be read (5xx, throttling, a reset connection, a bucket or key
that is gone) is *not* a denial: the last known answer stands, and with none the
delivery proceeds (the put or publish then meets whatever is really wrong, and is
classified as any other failure). Such a check is tried again after
``min(interval, ERROR_RECHECK)`` seconds (``ERROR_RECHECK`` with interval 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: Seconds after a failed policy read before the next try (not on every batch).
ERROR_RECHECK = 60.0
#: Answers not looked at for this many intervals (at least a day) are forgotten.
FORGET_AFTER = 24 * 3600.0


class Resource(Enum):
    BUCKET = "bucket"
    KEY = "key"
    TOPIC = "topic"


class Outcome(Enum):
    GRANTED = "granted"
    DENIED = "denied"
    REFUSED = "refused"  # the owner does not let recorder read the policy
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class GrantKey:
    """One grant as CloudTrail needs it: the resource and the trail it serves (the
    policy conditions name the trail, its account and, for an organization trail,
    the organization's folder)."""

    resource: Resource
    name: str  # bucket name, key id or ARN, topic ARN
    account_id: str  # the trail's owner
    trail_arn: str
    prefix: str | None = None
    organization_id: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    #: None: granted (or never read); else the missing grant in words.
    problem: str | None
    checked_at: float
    failed: bool = False  # the last try could not read the policy


class GrantBook:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._answers: dict[GrantKey, Answer] = {}
        self._used: dict[GrantKey, float] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def due(self, key: GrantKey, now: float, *, retry: bool = False) -> bool:
        """Must the policy be read (again) before delivering? On a ``retry`` of a parked
        destination a denial is never taken from the cache (a grant within the interval
        is: the put itself then tests the rest)."""
        self._used[key] = now
        answer = self._answers.get(key)
        if answer is None or (retry and answer.problem is not None):
            return True
        if answer.failed:
            wait = min(self.interval, ERROR_RECHECK) if self.interval > 0 else ERROR_RECHECK
            return now - answer.checked_at >= wait
        return self.interval > 0 and now - answer.checked_at >= self.interval

    def problem(self, key: GrantKey) -> str | None:
        """The missing grant as last known; None when granted or never read."""
        answer = self._answers.get(key)
        return None if answer is None else answer.problem

    def record(
        self, key: GrantKey, problem: str | None, now: float, *, refused: bool = False
    ) -> Outcome:
        """A policy read and evaluated, or one whose read the owner refused (a problem
        like a denial: recorder cannot tell that the grant is there)."""
        self._answers[key] = Answer(problem, now)
        if problem is None:
            return Outcome.GRANTED
        return Outcome.REFUSED if refused else Outcome.DENIED

    def distrust(self, key: GrantKey) -> None:
        """The resource refused a request the cached answer said was granted: read the
        policy again before the next delivery (the refusal then gets its explanation)."""
        answer = self._answers.get(key)
        if answer is not None and answer.problem is None:
            del self._answers[key]

    def failed(self, key: GrantKey, now: float) -> Outcome:
        """A policy that could not be read: keep what was known."""
        last = self._answers.get(key)
        self._answers[key] = Answer(last.problem if last else None, now, failed=True)
        return Outcome.ERROR

    def forget_unused(self, now: float) -> int:
        """Drop answers no delivery asked for in a long while (trails deleted or
        moved to another bucket); returns how many."""
        horizon = max(FORGET_AFTER, 4 * self.interval)
        stale = [k for k, used in self._used.items() if now - used > horizon]
        for k in stale:
            self._used.pop(k, None)
            self._answers.pop(k, None)
        return len(stale)


def status_text(resource: Resource, problem: str) -> str:
    """What GetTrailStatus shows for a grant that is missing or cannot be verified: the
    error S3 (``AccessDenied``, also for a key S3 may not use) or SNS
    (``AuthorizationError``) answers a refused request with, then the explanation
    (:func:`missing_grant`, :func:`refused_read`)."""
    return f"{error_code(resource)}: {problem}"


def missing_grant(resource: Resource, principal: str, grant: str) -> str:
    """``the bucket policy does not grant <principal> s3:PutObject on <ARN>``."""
    return f"the {resource.value} policy does not grant {principal} {grant}"


def refused_read(resource: Resource, principal: str, name: str, action: str, code: str) -> str:
    """A policy the owner does not let recorder read: recorder cannot tell that it grants
    delivery, so it does not deliver, and says which read was refused to whom."""
    return (
        f"{principal} may not read the {resource.value} policy of {name} "
        f"({action} refused: {code}); grant it {action} so recorder can check its grant"
    )


def error_code(resource: Resource) -> str:
    return "AuthorizationError" if resource is Resource.TOPIC else "AccessDenied"


__all__ = [
    "ERROR_RECHECK",
    "Answer",
    "GrantBook",
    "GrantKey",
    "Outcome",
    "Resource",
    "error_code",
    "missing_grant",
    "refused_read",
    "status_text",
]
