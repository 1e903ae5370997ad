"""The trail rules the API enforces, taken from :mod:`recorder.trails`.

The model package owns the rules (naming, prefixes, selectors: guide lines 4380,
4712-4935) and raises ``TrailError`` with the CloudTrail exception name as
``.code``; this module only adapts them to the API's :class:`ApiError`, so there is
one definition of each rule for the API, the router and the trails file alike.
:class:`Rules` is the seam the handlers use (tests give a permissive double).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from recorder import trails
from recorder.api.protocol import ApiError

#: Document members only the API reads: tags and the trail's history. The trail model
#: must tolerate them (they ride along in the registry's documents).
API_MEMBERS = frozenset(
    {"Tags", "CreationTime", "UpdateTime", "StartLoggingTime", "StopLoggingTime"}
)

T = TypeVar("T")


class Rules(Protocol):
    def validate_name(self, name: str) -> None: ...

    def validate_bucket_name(self, name: str) -> None: ...

    def validate_prefix(self, prefix: str) -> None: ...

    def validate_kms_key_id(self, key_id: str) -> None: ...

    def validate_sns_topic(self, topic: str) -> None: ...

    def validate_event_selectors(self, selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The selectors as stored (normalised), or InvalidEventSelectorsException."""
        ...

    def validate_advanced_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> list[dict[str, Any]]: ...

    def check_trail_limit(
        self, existing: Iterable[Mapping[str, Any]], candidate: Mapping[str, Any]
    ) -> None:
        """MaximumNumberOfTrailsExceededException if ``candidate`` would be a sixth trail
        in a region of its account; ``existing`` are that account's other trails."""
        ...

    def check_document(self, document: Mapping[str, Any]) -> None:
        """The document is one the router and writer can load."""
        ...


def _translate(call: Callable[[], T]) -> T:
    try:
        return call()
    except trails.TrailError as exc:
        raise ApiError(str(exc.code), str(getattr(exc, "message", None) or exc)) from None


class TrailRules:
    """:class:`Rules` backed by :mod:`recorder.trails`."""

    def validate_name(self, name: str) -> None:
        _translate(lambda: trails.validate_trail_name(name))

    def validate_bucket_name(self, name: str) -> None:
        _translate(lambda: trails.validate_bucket_name(name))

    def validate_prefix(self, prefix: str) -> None:
        _translate(lambda: trails.validate_s3_key_prefix(prefix))

    def validate_sns_topic(self, topic: str) -> None:
        _translate(lambda: trails.validate_sns_topic(topic))

    def validate_kms_key_id(self, key_id: str) -> None:
        _translate(lambda: trails.validate_kms_key_id(key_id))

    def validate_event_selectors(self, selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        parsed = _translate(lambda: trails.parse_event_selectors(selectors))
        return [s.to_api() for s in parsed]

    def validate_advanced_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        parsed = _translate(lambda: trails.parse_advanced_event_selectors(selectors))
        return [s.to_api() for s in parsed]

    def check_trail_limit(
        self, existing: Iterable[Mapping[str, Any]], candidate: Mapping[str, Any]
    ) -> None:
        def check() -> None:
            others = [trails.Trail.from_api(_model_members(d)) for d in existing]
            trails.check_trail_limit(others, trails.Trail.from_api(_model_members(candidate)))

        _translate(check)

    def check_document(self, document: Mapping[str, Any]) -> None:
        _translate(lambda: trails.Trail.from_api(dict(document)))


def model_tolerates_api_members() -> bool:
    """Whether :meth:`Trail.from_api` accepts a document carrying :data:`API_MEMBERS`.

    If it does not, every trail the API writes would be dropped by the registry; the
    service says so at start and CreateTrail fails loudly rather than silently."""
    arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/probe"
    doc: dict[str, Any] = {"Name": "probe", "TrailARN": arn, "S3BucketName": "probe-bucket"}
    doc.update(
        Tags=[{"Key": "k", "Value": "v"}],
        CreationTime="2024-01-01T00:00:00.000Z",
        UpdateTime="2024-01-01T00:00:00.000Z",
        StartLoggingTime="2024-01-01T00:00:00.000Z",
        StopLoggingTime="2024-01-01T00:00:00.000Z",
    )
    try:
        trails.Trail.from_api(doc)
    except Exception:  # TrailError, or a tree where the model is not there yet
        return False
    return True


def _model_members(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The members the trail model reads (for the limit count, which needs no more)."""
    return {k: v for k, v in doc.items() if k not in API_MEMBERS}
