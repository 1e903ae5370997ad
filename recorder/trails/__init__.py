"""Trails: the model CloudTrail's DescribeTrails/GetEventSelectors describe, and the
validation that gives a client the error code CloudTrail would."""

from recorder.aws.arn import TrailArn, trail_arn
from recorder.trails.arn import parse_trail_arn
from recorder.trails.document import TrailDocument
from recorder.trails.errors import TrailError
from recorder.trails.event_selectors import (
    DEFAULT_EVENT_SELECTORS,
    LAMBDA_FUNCTION,
    S3_OBJECT,
    AdvancedEventSelector,
    DataResource,
    EventSelector,
    FieldSelector,
    parse_advanced_event_selectors,
    parse_event_selectors,
    parse_selectors,
)
from recorder.trails.limits import MAX_TRAILS_PER_REGION, check_trail_limit, trails_in_region
from recorder.trails.model import Trail
from recorder.trails.naming import (
    validate_bucket_name,
    validate_kms_key_id,
    validate_s3_key_prefix,
    validate_sns_topic,
    validate_trail_name,
)

__all__ = [
    "DEFAULT_EVENT_SELECTORS",
    "LAMBDA_FUNCTION",
    "MAX_TRAILS_PER_REGION",
    "S3_OBJECT",
    "AdvancedEventSelector",
    "DataResource",
    "EventSelector",
    "FieldSelector",
    "Trail",
    "TrailArn",
    "TrailDocument",
    "TrailError",
    "check_trail_limit",
    "parse_advanced_event_selectors",
    "parse_event_selectors",
    "parse_selectors",
    "parse_trail_arn",
    "trail_arn",
    "trails_in_region",
    "validate_bucket_name",
    "validate_kms_key_id",
    "validate_s3_key_prefix",
    "validate_sns_topic",
    "validate_trail_name",
]
