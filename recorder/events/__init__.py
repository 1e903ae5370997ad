"""CloudTrail records: the Avro wire form, the guide's rules, and the log-file rendering.

A record is always the plain ``dict`` CloudTrail JSON gives (one element of
``Records``); nothing here does I/O.
"""

from recorder.events.classify import Classification, classify
from recorder.events.codec import decode, decode_typed, encode
from recorder.events.errors import EventDecodeError, InvalidEventError
from recorder.events.render import log_file_bytes, render_record
from recorder.events.validate import validate_record

__all__ = [
    "Classification",
    "EventDecodeError",
    "InvalidEventError",
    "classify",
    "decode",
    "decode_typed",
    "encode",
    "log_file_bytes",
    "render_record",
    "validate_record",
]
