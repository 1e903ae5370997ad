"""Resource policies: whether a bucket, topic or key grants recorder what delivery needs.

Pure, synchronous and shared: the control API checks a trail's destinations on
CreateTrail/UpdateTrail, and the writer re-checks a destination's grant with the same
functions (:func:`bucket_grant_problem`, :func:`topic_grant_problem`,
:func:`key_grant_problem`) on the policy it fetched, for the configured delivery
principal (:class:`Principal`).
"""

from recorder.policies.evaluate import Decision, Request, evaluate
from recorder.policies.grants import (
    bucket_grant_problem,
    key_grant_problem,
    log_object_arns,
    topic_grant_problem,
)
from recorder.policies.principal import CLOUDTRAIL, CLOUDTRAIL_SERVICE, Principal

__all__ = [
    "CLOUDTRAIL",
    "CLOUDTRAIL_SERVICE",
    "Decision",
    "Principal",
    "Request",
    "bucket_grant_problem",
    "evaluate",
    "key_grant_problem",
    "log_object_arns",
    "topic_grant_problem",
]
