"""Issue 17: one failing service of ``recorder run all`` never takes the others down.

The API cannot bind its port (another process holds it), so it fails at every
start. The router, writer and digester keep delivering log files and digests;
``/readyz`` answers 503 and names the API with its error; each restart is counted
in ``recorder_service_restarts_total{service="api"}``. Once the port is free the
API comes up on its next restart and ``/readyz`` turns ready.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from recorder.events import encode
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    let_time_pass,
    wait_for,
    wait_until,
    write_trails,
)
from tests.integration.test_integrity import event

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
BUCKET = "supervised-logs"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/supervised"


def readyz(proc: RecorderProcess) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/readyz", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}  # not listening yet


def restarts(proc: RecorderProcess, service: str) -> float:
    for line in proc.metrics().splitlines():
        if line.startswith(f'recorder_service_restarts_total{{service="{service}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_a_failing_service_is_restarted_while_the_others_deliver(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("supervised")
    cloudtrail_bucket(aws(stack, "s3"), BUCKET)
    trails = write_trails(
        work / "trails.json",
        [
            {
                "Name": "supervised",
                "TrailARN": ARN,
                "HomeRegion": "us-east-1",
                "S3BucketName": BUCKET,
                "IsMultiRegionTrail": True,
                "LogFileValidationEnabled": True,
            }
        ],
    )
    api_port = free_port()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    holder.bind(("127.0.0.1", api_port))
    holder.listen()
    proc = RecorderProcess(
        stack,
        ["all"],
        work,
        env={
            "RECORDER_TRAILS_FILE": str(trails),
            "RECORDER_API_PORT": str(api_port),
            "RECORDER_API_HOST": "127.0.0.1",
            "RECORDER_DIGEST_INTERVAL": "5",
            "RECORDER_CUT_INTERVAL": "1",
            "RECORDER_SERVICE_RESTART_BACKOFF": "0.5",
            "RECORDER_SERVICE_RESTART_BACKOFF_MAX": "2",
        },
    )
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=work / "journal")
    try:
        proc.start(wait_ready=None)  # it never gets ready while the API cannot start
        code, body = wait_for(
            lambda: (r := readyz(proc))[1].get("failing", {}).get("api") and r,
            30,
            what="/readyz naming the api",
        )
        assert proc.proc is not None and proc.proc.poll() is None, proc.log_text()[-3000:]
        assert code == 503
        assert "Errno 98" in body["failing"]["api"] or "in use" in body["failing"]["api"]
        # The others keep delivering: log files and digests of the trail.
        s3 = aws(stack, "s3")

        def objects(kind: str) -> int:
            prefix = f"AWSLogs/{ACCOUNT}/{kind}/"
            return len(s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))

        n = 0

        def emit() -> None:
            nonlocal n
            for _ in range(10):
                sink.emit(ACCOUNT.encode(), encode(event(n)))
                n += 1
            let_time_pass(0.5, "traffic at a steady rate")

        wait_until(
            lambda: objects("CloudTrail") >= 3 and objects("CloudTrail-Digest") >= 2,
            30,
            message="three log files and two digests",
            meanwhile=emit,
        )
        assert objects("CloudTrail") >= 3
        assert objects("CloudTrail-Digest") >= 2
        assert restarts(proc, "api") >= 2
        assert restarts(proc, "writer") == restarts(proc, "router") == 0
        assert restarts(proc, "digester") == 0
        assert readyz(proc)[1]["failing"].keys() == {"api"}
        # The port is freed: the API's next restart succeeds, and the process is ready.
        holder.close()
        wait_for(lambda: readyz(proc)[0] == 200, 30, what="/readyz ready again")
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        holder.close()
        sink.close()
        assert proc.stop() == 0
