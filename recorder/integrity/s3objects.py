"""Reading a trail's objects with boto3 for the proof commands (``recorder prove``,
``recorder verify``): where a key sits, which Merkle logs are beside it, their entries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from recorder.aws.s3 import prefixed
from recorder.integrity import tlog
from recorder.integrity.audit import Stored

_KEY = re.compile(
    r"^(?:(?P<prefix>.*)/)?AWSLogs/(?:(?P<org>o-[a-z0-9]+)/)?(?P<account>\d{12})/"
    r"(?P<folder>CloudTrail(?:-Insight|-Digest)?)/(?P<region>[a-z0-9-]+)/"
)


@dataclass(frozen=True, slots=True)
class Place:
    """Where CloudTrail objects of one account folder and region are."""

    bucket: str
    prefix: str | None
    org_id: str | None
    account_id: str
    region: str

    def folder(self, name: str) -> str:
        base = "AWSLogs/" + (f"{self.org_id}/" if self.org_id else "")
        return prefixed(self.prefix, f"{base}{self.account_id}/{name}/{self.region}/")


def place_of(url: str) -> tuple[Place, str]:
    """The place and key of ``s3://bucket/key`` (ValueError for another kind of key)."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"not an s3://bucket/key URL: {url}")
    bucket, key = url[5:].split("/", 1)
    m = _KEY.match(key)
    if m is None:
        raise ValueError(f"s3://{bucket}/{key} is no CloudTrail log file or digest")
    return Place(bucket, m["prefix"], m["org"], m["account"], m["region"]), key


class Bucket:
    """boto3 S3 reads, as the audit wants them."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def get(self, bucket: str, key: str) -> Stored | None:
        try:
            obj = self.s3.get_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return Stored(obj["Body"].read(), obj.get("Metadata", {}))

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                yield o["Key"]

    def logs(self, place: Place) -> list[str]:
        """The origins of the Merkle logs beside the place's objects (one per trail)."""
        out = []
        paginator = self.s3.get_paginator("list_objects_v2")
        prefix = place.folder("CloudTrail-Tlog")
        for page in paginator.paginate(Bucket=place.bucket, Prefix=prefix, Delimiter="/"):
            for p in page.get("CommonPrefixes", []):
                out.append(f"{place.bucket}/{p['Prefix'].rstrip('/')}")
        return out

    def checkpoint(self, origin: str) -> str | None:
        bucket, folder = tlog.split_origin(origin)
        found = self.get(bucket, f"{folder}/checkpoint")
        return None if found is None else found.body.decode()

    def entries(self, origin: str, size: int) -> list[bytes]:
        bucket, folder = tlog.split_origin(origin)

        def read(path: str) -> bytes | None:
            found = self.get(bucket, f"{folder}/{path}")
            return None if found is None else found.body

        return tlog.read_bundles(size, read)


def note_size(note: str) -> int:
    """The tree size a checkpoint says (unverified: to know what to read)."""
    lines = note.split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise ValueError("not a checkpoint")
    return int(lines[1])
