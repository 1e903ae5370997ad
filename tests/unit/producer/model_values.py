"""Values generated from botocore shapes: request parameters a client accepts and
responses ``Stubber`` accepts, chosen deterministically from a seed.

Required members are always present; optional ones are sampled (about a third, never
below depth 3), so each operation is driven with a realistic, reproducible mix.
Strings respect ``min``/``max`` and enums; host labels are DNS-safe; a few member
names botocore's own handlers parse (S3 bucket names and copy sources) get values in
the form those handlers expect.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from botocore.model import Shape

T = dt.datetime(2026, 11, 30, 12, 0, 0, tzinfo=dt.UTC)

#: Members whose value botocore's handlers parse before the request is built.
_FIXED = {
    "Bucket": "example-bucket",
    "CopySource": "source-bucket/source/key.txt",
    "SSECustomerKey": "k" * 32,
    "CopySourceSSECustomerKey": "k" * 32,
    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/queue",
    # CRC32C and CRC64NVME need botocore[crt]; the algorithm is not what is under test
    "ChecksumAlgorithm": "CRC32",
    # endpoint rules parse these (Kinesis routes by the stream's account)
    "StreamARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/s",
    "ConsumerARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/s/consumer/c:1",
    "ResourceARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/s",
    # the hook reads the table a PartiQL statement names (DynamoDB's resources)
    "Statement": "SELECT * FROM \"Music\" WHERE Artist = 'No One You Know'",
}


def _string(rng: random.Random, name: str, shape: Shape, host_label: bool) -> str:
    if shape.enum:
        return rng.choice(shape.enum)
    base = "".join(c for c in name.lower() if c.isalnum()) or "value"
    value = f"{base}{rng.randrange(1000)}"
    lo = int(shape.metadata.get("min", 1) or 0)
    hi = int(shape.metadata.get("max", 0) or 0)
    if len(value) < lo:
        value = value + "x" * (lo - len(value))
    if hi and len(value) > hi:
        value = value[:hi]
    if host_label:
        value = "".join(c for c in value if c.isalnum()).lower() or "label"
    return value


def value_for(
    shape: Shape | None,
    rng: random.Random,
    *,
    name: str = "value",
    depth: int = 0,
    request: bool = True,
) -> Any:
    if shape is None:
        return None
    kind = shape.type_name
    if request and name in _FIXED and kind == "string":
        return _FIXED[name]
    if kind == "structure":
        if shape.metadata.get("document"):
            return {"key": "value"}
        members = shape.members
        if shape.is_tagged_union:
            (choice,) = rng.sample(sorted(members), 1)
            return {
                choice: value_for(
                    members[choice], rng, name=choice, depth=depth + 1, request=request
                )
            }
        required = set(shape.required_members)
        out: dict[str, Any] = {}
        for member_name, member in members.items():
            stream = member.serialization.get("eventstream") or member.metadata.get("eventstream")
            if stream and member_name not in required:
                continue
            if member_name not in required and (depth >= 3 or rng.random() > 0.35):
                continue
            if member.metadata.get("idempotencyToken"):
                continue
            out[member_name] = value_for(
                member,
                rng,
                name=member_name,
                depth=depth + 1,
                request=request,
            )
            if member.serialization.get("hostLabel"):
                out[member_name] = _string(rng, member_name, member, True)
        return out
    if kind == "list":
        n = max(1, int(shape.metadata.get("min", 1) or 0))
        return [
            value_for(shape.member, rng, name=name, depth=depth + 1, request=request)
            for _ in range(n)
        ]
    if kind == "map":
        key = value_for(shape.key, rng, name="key", depth=depth + 1, request=request)
        return {key: value_for(shape.value, rng, name=name, depth=depth + 1, request=request)}
    if kind == "string":
        return _string(rng, name, shape, False)
    if kind in ("integer", "long"):
        lo = shape.metadata.get("min")
        return int(lo) if lo is not None and lo > 1 else 1
    if kind in ("float", "double"):
        lo = shape.metadata.get("min")
        return float(lo) if lo is not None and lo > 1 else 1.5
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return T
    if kind == "blob":
        return b"blob-data"
    raise ValueError(f"no value for shape type {kind!r} ({shape.name})")
