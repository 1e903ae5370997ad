"""The trail rules the API enforces, taken from :mod:`recorder.trails`.

The model package owns the rules (naming, prefixes, selectors: guide lines 4380,
4712-4935) and raises ``TrailError`` with the CloudTrail exception name as
``.code``; this module only adapts them to the API's :class:`ApiError`, so there is
one definition of each rule for the API, the router and the trails file alike. The
documents the API stores carry members only it reads (``Tags``, ``CreationTime``,
``UpdateTime``, ``StartLoggingTime``, ``StopLoggingTime``); the model lets them ride
along (``recorder.trails.model.API_DOCUMENT_MEMBERS``).
:class:`Rules` is the seam the handlers use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from recorder import trails
from recorder.api.protocol import ApiError

T = TypeVar("T")


class Rules(Protocol):
    def validate_name(self, name: str) -> None: ...

    def validate_bucket_name(self, name: str) -> None: ...

    def validate_prefix(self, prefix: str) -> None: ...

    def validate_kms_key_id(self, key_id: str) -> None: ...

    def validate_sns_topic(self, topic: str) -> None: ...

    def validate_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> tuple[trails.EventSelector, ...]:
        """The selectors parsed, or InvalidEventSelectorsException."""
        ...

    def validate_advanced_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> tuple[trails.AdvancedEventSelector, ...]: ...

    def check_trail_limit(self, existing: Iterable[trails.Trail], candidate: trails.Trail) -> None:
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

    def validate_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> tuple[trails.EventSelector, ...]:
        return _translate(lambda: trails.parse_event_selectors(selectors))

    def validate_advanced_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> tuple[trails.AdvancedEventSelector, ...]:
        return _translate(lambda: trails.parse_advanced_event_selectors(selectors))

    def check_trail_limit(self, existing: Iterable[trails.Trail], candidate: trails.Trail) -> None:
        _translate(lambda: trails.check_trail_limit(existing, candidate))

    def check_document(self, document: Mapping[str, Any]) -> None:
        _translate(lambda: trails.Trail.from_api(dict(document)))
