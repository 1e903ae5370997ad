"""recorder: a CloudTrail-compatible API-event recording service."""

__version__ = "0.1.0"
