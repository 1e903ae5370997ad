"""The reference matcher: the guide read literally, one trail and selector at a time.

Deliberately naive (no index, no cache): it is the specification the compiled index
(:mod:`recorder.selectors.index`) is property-tested and benchmarked against.

Basic event selectors (lines 4532-4935):

* ``ReadWriteType`` All logs both, ReadOnly read-only events, WriteOnly the others,
  None neither; it applies to management and data events alike.
* A management event matches if ``IncludeManagementEvents`` and its event source is
  not in ``ExcludeManagementEventSources``.
* A data event matches if a data resource of the resource's type names it: for
  ``AWS::S3::Object``, ``arn:aws:s3`` / ``arn:aws:s3:::`` name every object,
  ``arn:aws:s3:::bucket`` or ``arn:aws:s3:::bucket/`` every object in that bucket, and
  ``arn:aws:s3:::bucket/prefix`` the objects whose key starts with prefix; for
  ``AWS::Lambda::Function``, ``arn:aws:lambda`` names every function, a function
  ARN that function (any version or alias of it).
* A trail without selectors logs all management events and no data events.

Advanced event selectors: a selector matches if all its field selectors hold; a field
selector holds if all of its operators do (Equals/StartsWith/EndsWith: one of the
values; the Not forms: none of them). ``resources.*`` fields must all hold for one
and the same resource of the event. A member the event does not have is the empty
string: Equals, StartsWith and EndsWith fail on it, the Not forms hold
(``sessionCredentialFromConsole`` absent is ``false``, as CloudTrail writes it only
when true).
"""

from __future__ import annotations

from recorder.aws.arn import partition_of
from recorder.selectors.event import Event, Resource
from recorder.trails import (
    LAMBDA_FUNCTION,
    S3_OBJECT,
    AdvancedEventSelector,
    EventSelector,
    FieldSelector,
    Trail,
)


def trail_matches(trail: Trail, event: Event) -> bool:
    """Whether the trail's selectors select the event (regions and accounts aside)."""
    if trail.advanced_event_selectors:
        return any(advanced_matches(s, event) for s in trail.advanced_event_selectors)
    return any(basic_matches(s, event) for s in trail.effective_event_selectors)


# -- basic ------------------------------------------------------------------------------
def read_write_allows(read_write_type: str, read_only: bool) -> bool:
    if read_write_type == "All":
        return True
    if read_write_type == "ReadOnly":
        return read_only
    if read_write_type == "WriteOnly":
        return not read_only
    return False  # "None"


def basic_matches(selector: EventSelector, event: Event) -> bool:
    if not read_write_allows(selector.read_write_type, event.read_only):
        return False
    if event.category == "Management":
        return (
            selector.include_management_events
            and event.source not in selector.exclude_management_event_sources
        )
    if event.category == "Data":
        for data_resource in selector.data_resources:
            for resource in event.resources:
                if resource.type != data_resource.type:
                    continue
                for value in data_resource.values:
                    if data_resource_names(data_resource.type, value, resource.arn):
                        return True
    return False


def data_resource_names(resource_type: str, value: str, arn: str) -> bool:
    """Whether a ``DataResources`` value names the resource with this ARN."""
    if resource_type == S3_OBJECT:
        partition = partition_of(value)
        objects = f"arn:{partition}:s3:::"
        if value in (f"arn:{partition}:s3", objects):
            return arn.startswith(objects)
        bucket, _, prefix = value[len(objects) :].partition("/")
        if not arn.startswith(objects):
            return False
        arn_bucket, slash, key = arn[len(objects) :].partition("/")
        return arn_bucket == bucket and bool(slash) and key.startswith(prefix)
    if resource_type == LAMBDA_FUNCTION:
        partition = partition_of(value)
        if value == f"arn:{partition}:lambda":
            return arn.startswith(f"arn:{partition}:lambda:")
        return arn == value or arn.startswith(value + ":")
    return False


# -- advanced ---------------------------------------------------------------------------
_RESOURCE_FIELDS = ("resources.type", "resources.ARN")


def advanced_matches(selector: AdvancedEventSelector, event: Event) -> bool:
    resource_selectors = []
    for f in selector.field_selectors:
        if f.field in _RESOURCE_FIELDS:
            resource_selectors.append(f)
        elif f.field == "readOnly":
            if not field_holds(f, "true" if event.read_only else "false"):
                return False
        elif not field_holds(f, event.field(f.field)):
            return False
    if not resource_selectors:
        return True
    return any(_resource_holds(resource_selectors, r) for r in event.resources)


def _resource_holds(selectors: list[FieldSelector], resource: Resource) -> bool:
    for f in selectors:
        value = resource.type if f.field == "resources.type" else resource.arn
        if not field_holds(f, value):
            return False
    return True


def field_holds(f: FieldSelector, value: str) -> bool:
    if f.equals and value not in f.equals:
        return False
    if f.starts_with and not any(value.startswith(v) for v in f.starts_with):
        return False
    if f.ends_with and not any(value.endswith(v) for v in f.ends_with):
        return False
    if value in f.not_equals:
        return False
    if any(value.startswith(v) for v in f.not_starts_with):
        return False
    return not any(value.endswith(v) for v in f.not_ends_with)
