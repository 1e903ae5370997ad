"""The quick start's trail goes through the control API (issue 12, item 8).

What `make run` does, on the test stack: `recorder demo setup` makes the bucket and
topic with the guide's policies, `recorder run all` serves the API with the
local-development key, `recorder demo trail` creates the demo trail with boto3 and
prints `aws cloudtrail` commands; the printed describe-trails command, run with the
real `aws` CLI, shows the trail, and get-trail-status says it is logging.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess

pytestmark = pytest.mark.integration

AWS_CLI = str(Path(sys.executable).with_name("aws"))


def test_demo_trail_is_made_through_the_api_and_visible_to_the_aws_cli(
    stack: LocalStack, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **stack.environment(),
        "RECORDER_API_PORT": str(port),
    }
    demo = [sys.executable, "-m", "recorder.cli", "demo"]
    subprocess.run([*demo, "setup"], env=env, check=True, timeout=120)
    proc = RecorderProcess(stack, ["all"], tmp_path, env={"RECORDER_API_PORT": str(port)}).start()
    try:
        out = subprocess.run(
            [*demo, "trail"], env=env, check=True, timeout=120, capture_output=True, text=True
        ).stdout
        commands = [line.strip() for line in out.splitlines() if " aws cloudtrail " in line]
        assert [c.split(" aws cloudtrail ")[1].split()[0] for c in commands] == [
            "describe-trails",
            "get-trail-status",
        ]
        cli_env = {
            **os.environ,
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
        }
        answers = []
        for command in commands:
            words = shlex.split(command)
            assignments = dict(w.split("=", 1) for w in words if "=" in w and w[0].isupper())
            rest = [w for w in words if "=" not in w or not w[0].isupper()]
            assert rest[0] == "aws"
            argv = [AWS_CLI, *rest[1:]]
            done = subprocess.run(
                argv, env={**cli_env, **assignments}, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
            answers.append(json.loads(done.stdout))
        (trail,) = answers[0]["trailList"]
        assert (trail["Name"], trail["S3BucketName"], trail["IsMultiRegionTrail"]) == (
            "demo-trail",
            "recorder-demo-logs",
            True,
        )
        assert trail["SnsTopicName"] == "recorder-demo-notices"
        assert answers[1]["IsLogging"] is True
    finally:
        proc.stop()
