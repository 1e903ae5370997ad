"""Selectors: which trails' event selectors select an event.

Two matchers with one meaning: :class:`SelectorIndex`, compiled once per trail set and
used by the router, and :func:`trail_matches`, the guide read literally, kept as the
specification they are tested against.
"""

from recorder.selectors.event import Event, RecordError, Resource, event_from_record
from recorder.selectors.index import SelectorIndex
from recorder.selectors.reference import trail_matches

__all__ = [
    "Event",
    "RecordError",
    "Resource",
    "SelectorIndex",
    "event_from_record",
    "trail_matches",
]
