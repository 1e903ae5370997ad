"""Routing: which trails receive an event, under which account and in which region."""

from recorder.events.regions import GLOBAL_REGION, GLOBAL_SERVICE_SOURCES, is_global_service_event
from recorder.routing.engine import RoutingEngine, organization_of
from recorder.routing.reference import reference_route

__all__ = [
    "GLOBAL_REGION",
    "GLOBAL_SERVICE_SOURCES",
    "RoutingEngine",
    "is_global_service_event",
    "organization_of",
    "reference_route",
]
