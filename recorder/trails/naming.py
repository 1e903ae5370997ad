"""Naming rules the guide gives for a trail and what it delivers to (line 4380).

Each validator raises :class:`TrailError` with the code CloudTrail answers with, and
returns nothing: the control API calls them on CreateTrail/UpdateTrail input, and
:meth:`Trail.from_api` on every trail it reads.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from recorder.aws.arn import regional_arn
from recorder.trails.errors import TrailError, trail_error

_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")

# Trail names (line 4382): ASCII letters, digits, . _ -; start and end with a letter or
# digit; 3-128 characters; no two of . _ - adjacent; not an IP address.
_TRAIL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9]))*")
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_ALNUM = re.compile(r"[A-Za-z0-9]")

# Bucket names (line 4393): labels of lower-case letters, digits and dashes, each
# starting with a letter or digit, not ending with a dash, separated by single periods.
_BUCKET_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")

# KMS alias names (line 4408): 1-32 of A-Z a-z 0-9 - / _, not beginning with "aws".
_KMS_ALIAS = re.compile(r"[A-Za-z0-9/_-]{1,32}")
_KMS_KEY_ID = re.compile(
    r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_KMS_RESOURCE = re.compile(r"(?P<kind>key|alias)/(?P<rest>.+)")  # of a KMS ARN

# SNS topic names (line 4262): 1-256 ASCII letters, digits, underscores or hyphens.
_SNS_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SNS_RESOURCE = re.compile(r"[^:]+")  # of a topic ARN: the topic's name

#: Letters and digits with single hyphens or underscores between them: a subset of the
#: valid names (no period, so never an IP address), checked in one match.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9](?:[_-]?[A-Za-z0-9])+")

#: CloudTrail API reference: "The maximum length is 200 characters."
MAX_S3_KEY_PREFIX = 200


def validate_trail_name(name: object) -> None:
    """The guide's rules, checked in the order CloudTrail checks them, each failure
    with CloudTrail's own message (:data:`recorder.trails.errors.ANSWERS`)."""
    if isinstance(name, str) and 3 <= len(name) <= 128 and _PLAIN_NAME.fullmatch(name):
        return  # the common form, valid by every rule below: one match, not six
    if not isinstance(name, str) or not name:
        raise trail_error("trail_name_blank")
    if len(name) < 3:
        raise trail_error("trail_name_too_short", length=len(name))
    if len(name) > 128:
        raise trail_error("trail_name_too_long", length=len(name))
    if not _ALNUM.fullmatch(name[0]):
        raise trail_error("trail_name_bad_start")
    if not _ALNUM.fullmatch(name[-1]):
        raise trail_error("trail_name_bad_end")
    if _NAME_CHARS.fullmatch(name) is None:
        raise trail_error("trail_name_bad_characters")
    if _TRAIL_NAME.fullmatch(name) is None:
        raise trail_error("trail_name_adjacent_punctuation")
    if _IP_ADDRESS.fullmatch(name) is not None:
        raise trail_error("trail_name_ip_address")


def validate_bucket_name(name: object) -> None:
    ok = (
        isinstance(name, str)
        and 3 <= len(name) <= 63
        and all(_BUCKET_LABEL.fullmatch(label) for label in name.split("."))
        and _IP_ADDRESS.fullmatch(name) is None
    )
    if not ok:
        raise TrailError("InvalidS3BucketNameException", f"Bucket name {name!r} is not valid.")


def validate_s3_key_prefix(prefix: object) -> None:
    """At most 200 characters, and a folder path that stays where it says.

    The prefix becomes the start of every object key the writer puts (guide line
    4146), so it must not climb out of itself: no ``.`` or ``..`` segment (also
    percent-encoded, as a sync tool or proxy may decode it), no leading ``/`` or
    ``\\``, no empty segment, no control character (a newline or NUL in a key breaks
    whoever lists or syncs the bucket). Otherwise a tenant could shape keys under
    another account's ``AWSLogs/`` folder in a shared bucket.
    """
    if not isinstance(prefix, str) or len(prefix) > MAX_S3_KEY_PREFIX:
        raise TrailError(
            "InvalidS3PrefixException",
            f"S3 key prefix {prefix!r} is not valid: at most {MAX_S3_KEY_PREFIX} characters.",
        )
    problem = _prefix_problem(prefix)
    if problem:
        raise TrailError(
            "InvalidS3PrefixException", f"S3 key prefix {prefix!r} is not valid: {problem}."
        )


def _prefix_problem(prefix: str) -> str | None:
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in prefix):
        return "it contains a control character"
    decoded = prefix
    for _ in range(3):  # %252e%252e -> %2e%2e -> ..
        decoded = unquote(decoded)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in decoded):
        return "it contains an encoded control character"
    if decoded.startswith(("/", "\\")):
        return "it must not start with '/'"
    body = decoded[:-1] if decoded.endswith("/") else decoded
    for segment in re.split(r"[/\\]", body):
        if segment in ("", ".", ".."):
            return "it must not contain empty, '.' or '..' path segments"
    return None


def validate_kms_key_id(key_id: object) -> None:
    """A key id, key ARN, ``alias/<name>`` or alias ARN; alias names per line 4408."""
    if not isinstance(key_id, str):
        raise TrailError("InvalidKmsKeyIdException", f"KMS key id {key_id!r} is not valid.")
    arn = regional_arn(key_id, "kms")
    m = _KMS_RESOURCE.fullmatch(arn.resource) if arn is not None else None
    if m is not None:
        kind, rest = m["kind"], m["rest"]
    elif key_id.startswith("alias/"):
        kind, rest = "alias", key_id[len("alias/") :]
    else:
        kind, rest = "key", key_id
    if kind == "alias":
        if _KMS_ALIAS.fullmatch(rest) is None or rest.startswith("aws"):
            raise TrailError(
                "InvalidKmsKeyIdException",
                f"KMS alias {rest!r} is not valid: 1-32 of A-Z a-z 0-9 - / _, "
                "not beginning with 'aws'.",
            )
    elif _KMS_KEY_ID.fullmatch(rest) is None:
        raise TrailError("InvalidKmsKeyIdException", f"KMS key id {key_id!r} is not valid.")


def sns_topic_name(topic: str) -> str:
    """The topic name of a name or topic ARN (SnsTopicName accepts either)."""
    arn = regional_arn(topic, "sns")
    if arn is not None and _SNS_RESOURCE.fullmatch(arn.resource) is not None:
        return arn.resource
    return topic


def validate_sns_topic(topic: object) -> None:
    if not isinstance(topic, str) or _SNS_TOPIC.fullmatch(sns_topic_name(topic)) is None:
        raise TrailError(
            "InvalidSnsTopicNameException",
            f"SNS topic {topic!r} is not valid: 1-256 ASCII letters, digits, "
            "underscores or hyphens.",
        )
