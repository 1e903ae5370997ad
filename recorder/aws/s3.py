"""Object keys under a trail's ``S3KeyPrefix``.

Every key CloudTrail writes for a trail (log files, digests, Insights files) and
every object ARN the bucket policy must grant starts ``<prefix>/AWSLogs/``, or
``AWSLogs/`` with no prefix (guide, "Finding Your CloudTrail Log Files"). The
prefix is joined as the trail keeps it, with one ``/`` and no other change,
because that is how validate-logs (awscli's ``validation.py``) builds the keys it
lists: a prefix ending in ``/`` gives ``a/b//AWSLogs/...``, and a file written
under ``a/b/AWSLogs/`` would be a file validate-logs never finds and a key the
policy checked for CreateTrail never granted. S3KeyPrefix validation already
refuses a leading ``/`` and empty segments, so a trailing ``/`` is the one case.
"""

from __future__ import annotations


def prefixed(prefix: str | None, rest: str) -> str:
    """``<prefix>/<rest>``, or ``rest`` when there is no prefix (None or empty)."""
    return f"{prefix}/{rest}" if prefix else rest
