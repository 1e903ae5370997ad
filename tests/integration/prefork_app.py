"""A WSGI application with the hook, for the prefork test (``test_prefork.py``).

Imported once in gunicorn's master (``--preload``): the sink, its thread and the
client are made there, before the workers are forked, as a real application does.
The master makes one call at start-up (``Prefix=req-warmup``); each request makes one
hooked S3 call naming the request, ``ListObjectsV2`` with ``Prefix=req-<n>``, and
answers with the worker's pid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3

from recorder.producer import KafkaEventSink, install
from recorder.producer.identity import CallerIdentityResolver
from recorder.settings import Settings

SINK = KafkaEventSink.from_settings(
    Settings.from_env(), journal_dir=Path(os.environ["APP_JOURNAL"])
)
SESSION = boto3.Session(
    aws_access_key_id=os.environ["APP_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["APP_SECRET_ACCESS_KEY"],
    aws_session_token=os.environ["APP_SESSION_TOKEN"],
    region_name="us-east-1",
)
install(SESSION, SINK, resolver=CallerIdentityResolver(endpoint_url=os.environ["APP_STS_URL"]))
S3 = SESSION.client("s3", endpoint_url=os.environ["APP_S3_URL"])
# a call at start-up, in the master: its record is the master's to send, once, whatever
# its sink still holds when the workers are forked
S3.list_objects_v2(Bucket=os.environ["APP_BUCKET"], Prefix="req-warmup")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    n = environ.get("QUERY_STRING", "")
    S3.list_objects_v2(Bucket=os.environ["APP_BUCKET"], Prefix=f"req-{n}")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
