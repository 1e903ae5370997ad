"""The trail rules the API enforces, taken from :mod:`recorder.trails`.

The model package owns the rules (naming, prefixes, selectors: guide lines 4380,
4712-4935) and raises ``TrailError`` with the CloudTrail exception name as
``.code``; this module only adapts them to the API's :class:`ApiError`, so there is
one definition of each rule for the API, the router and the trails file alike.
:class:`Rules` is the seam the handlers use (tests give a permissive double).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from recorder.api.protocol import ApiError

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

    def check_document(self, document: Mapping[str, Any]) -> None:
        """The document is one the router and writer can load."""
        ...


def _translate(call: Callable[[], T]) -> T:
    from recorder.trails import TrailError

    try:
        return call()
    except TrailError as exc:
        raise ApiError(str(exc.code), str(getattr(exc, "message", None) or exc)) from None


class TrailRules:
    """:class:`Rules` backed by :mod:`recorder.trails`."""

    def validate_name(self, name: str) -> None:
        from recorder.trails import validate_trail_name

        _translate(lambda: validate_trail_name(name))

    def validate_bucket_name(self, name: str) -> None:
        from recorder.trails import validate_bucket_name

        _translate(lambda: validate_bucket_name(name))

    def validate_prefix(self, prefix: str) -> None:
        from recorder.trails import validate_s3_key_prefix

        _translate(lambda: validate_s3_key_prefix(prefix))

    def validate_sns_topic(self, topic: str) -> None:
        from recorder.trails import validate_sns_topic

        _translate(lambda: validate_sns_topic(topic))

    def validate_kms_key_id(self, key_id: str) -> None:
        from recorder.trails import validate_kms_key_id

        _translate(lambda: validate_kms_key_id(key_id))

    def validate_event_selectors(self, selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from recorder.trails import validate_event_selectors

        result = _translate(lambda: validate_event_selectors(selectors))
        return list(result) if result is not None else selectors

    def validate_advanced_event_selectors(
        self, selectors: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        from recorder.trails import validate_advanced_event_selectors

        result = _translate(lambda: validate_advanced_event_selectors(selectors))
        return list(result) if result is not None else selectors

    def check_document(self, document: Mapping[str, Any]) -> None:
        from recorder.trails import Trail

        _translate(lambda: Trail.from_api(dict(document)))
