"""A prefork server with the hook (issue 25, item 3): gunicorn, 4 workers, ``--preload``
(the sink and its thread made in the master before the fork). Every request's hooked
call is delivered once, with the identity STS gives: no worker's events stay queued
for a thread that was not forked, none is sent twice by parent and child."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from loadtest.sts_outage import assume_role
from loadtest.trails import log_bucket
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port, port_open
from tests.integration.helpers import RecorderProcess, aws, wait_until

pytestmark = pytest.mark.integration

ACCOUNT = "222233334444"
LOGS, DATA = "prefork-logs", "prefork-data"
REQUESTS = 200
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _prefixes(stack: LocalStack) -> Counter[str]:
    s3 = aws(stack, "s3")
    seen: Counter[str] = Counter()
    for obj in s3.list_objects_v2(Bucket=LOGS).get("Contents", []):
        body = gzip.decompress(s3.get_object(Bucket=LOGS, Key=obj["Key"])["Body"].read())
        for r in json.loads(body)["Records"]:
            if r["eventName"] == "ListObjects" or r["eventName"] == "ListObjectsV2":
                seen[r["requestParameters"]["prefix"]] += 1
                assert r["userIdentity"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/app/app"
    return seen


def test_gunicorn_preload_with_four_workers_delivers_every_request_once(
    stack: LocalStack, tmp_path: Path
) -> None:
    s3 = aws(stack, "s3")
    log_bucket(s3, LOGS)
    s3.create_bucket(Bucket=DATA)
    trails = tmp_path / "trails.json"
    trails.write_text(
        json.dumps(
            [
                {
                    "Name": "prefork",
                    "TrailARN": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/prefork",
                    "HomeRegion": "us-east-1",
                    "S3BucketName": LOGS,
                    "IsMultiRegionTrail": True,
                    "IncludeGlobalServiceEvents": True,
                    "EventSelectors": [
                        {
                            "ReadWriteType": "All",
                            "IncludeManagementEvents": True,
                            "DataResources": [
                                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}
                            ],
                        }
                    ],
                }
            ]
        )
    )
    recorder = RecorderProcess(
        stack,
        ["router", "writer"],
        tmp_path / "recorder",
        env={"RECORDER_TRAILS_FILE": str(trails)},
    ).start()
    creds = assume_role(stack, ACCOUNT)
    port = free_port()
    env = {
        **os.environ,
        **stack.environment(),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "APP_JOURNAL": str(tmp_path / "journal"),
        "APP_ACCESS_KEY_ID": creds["AccessKeyId"],
        "APP_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "APP_SESSION_TOKEN": creds["SessionToken"],
        "APP_STS_URL": stack.aws_endpoint_url,
        "APP_S3_URL": stack.aws_endpoint_url,
        "APP_BUCKET": DATA,
    }
    log = (tmp_path / "gunicorn.log").open("ab")
    server = subprocess.Popen(
        [str(GUNICORN), "--preload", "-w", "4", "-b", f"127.0.0.1:{port}",
         "tests.integration.prefork_app:app"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 60, message="gunicorn listening")

        def get(n: int) -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{n}", timeout=60) as r:
                return str(r.read().decode())

        with ThreadPoolExecutor(8) as pool:
            pids = list(pool.map(get, range(REQUESTS)))
        assert len(set(pids)) >= 2, f"one worker served everything: {set(pids)}"
        # each worker writes a journal of its own (none shares the master's)
        journals = {d.name.split("-")[-2] for d in (tmp_path / "journal").iterdir()}
        assert set(pids) <= journals and str(server.pid) in journals
        expected = {f"req-{n}" for n in range(REQUESTS)} | {"req-warmup"}
        seen: Any = wait_until(
            lambda: (c := _prefixes(stack)).keys() >= expected and c,
            120,
            message="every request's call in the trail",
        )
        assert {p: n for p, n in seen.items() if n != 1} == {}  # once each
        assert set(seen) == expected
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
        log.close()
        recorder.stop()
    # the workers left nothing behind: their sinks sent all at exit
    leftover = [p for p in (tmp_path / "journal").rglob("*.jsonl") if p.stat().st_size]
    assert leftover == [], [p.name for p in leftover]
    shutil.rmtree(tmp_path / "journal", ignore_errors=True)
