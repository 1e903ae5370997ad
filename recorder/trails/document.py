"""A stored trail document: the :class:`Trail` plus what only the control API keeps.

The control API stores one JSON document per trail on `trails`; the router, writer
and digester read it through :meth:`Trail.from_api`, which lets the API's own members
ride along (:data:`recorder.trails.model.API_DOCUMENT_MEMBERS`). The API reads a
document into this once, changes it through the model, and writes it back with
:meth:`TrailDocument.to_document`, so the rules of a trail are the model's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.trails.model import Trail


@dataclass(frozen=True, slots=True)
class TrailDocument:
    trail: Trail
    tags: tuple[tuple[str, str], ...] = ()  # (key, value), in the order they were added
    creation_time: str | None = None
    update_time: str | None = None
    start_logging_time: str | None = None  # the last StartLogging, for GetTrailStatus
    stop_logging_time: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> TrailDocument:
        """Raises :class:`recorder.trails.TrailError` as :meth:`Trail.from_api` does."""
        tags = doc.get("Tags") or ()
        return cls(
            Trail.from_api(doc),
            tuple(
                (str(t["Key"]), str(t.get("Value") or ""))
                for t in tags
                if isinstance(t, Mapping) and "Key" in t
            ),
            _time(doc, "CreationTime"),
            _time(doc, "UpdateTime"),
            _time(doc, "StartLoggingTime"),
            _time(doc, "StopLoggingTime"),
        )

    def to_document(self) -> dict[str, Any]:
        doc = self.trail.to_document()
        doc["Tags"] = self.tags_api()
        for member, value in (
            ("CreationTime", self.creation_time),
            ("UpdateTime", self.update_time),
            ("StartLoggingTime", self.start_logging_time),
            ("StopLoggingTime", self.stop_logging_time),
        ):
            if value is not None:
                doc[member] = value
        return doc

    def tags_api(self) -> list[dict[str, str]]:
        """``TagsList`` as ListTags answers it."""
        return [{"Key": k, "Value": v} for k, v in self.tags]


def _time(doc: Mapping[str, Any], member: str) -> str | None:
    value = doc.get(member)
    return None if value is None else str(value)
