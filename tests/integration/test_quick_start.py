"""The quick start as the README gives it: `make run`, then its commands in a new shell.

`make run` (on free ports, in a stack directory of the test's own; everything else as
a user runs it) starts the local stack and the recorder, makes the demo trail through
the control API (issue 12, item 8: boto3, SigV4) and prints the `aws cloudtrail`
commands that show it, makes demo traffic and prints the first log file. Then, in a
new shell (no `RECORDER_*`, no AWS variable exported, only PATH and HOME): the printed
`describe-trails` / `get-trail-status` commands, with the real `aws` CLI, show the
trail logging; and `.venv/bin/recorder demo insights` finds the stack by itself
(`.stack/stack.json`, issue 27 item 7) and prints one Start and one End.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from recorder.stack.processes import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = str(Path(sys.executable).with_name("aws"))
RECORDER = str(Path(sys.executable).with_name("recorder"))


def test_make_run_then_the_readme_commands_in_a_new_shell(tmp_path: Path) -> None:
    stack = tmp_path / ".stack"
    make = [
        "make",
        "--no-print-directory",
        "-C",
        str(ROOT),
        f"STACK={stack}",
        f"KAFKA_PORT={free_port()}",
        f"MOTO_PORT={free_port()}",
        f"API_PORT={free_port()}",
        f"METRICS_PORT={free_port()}",
    ]
    user = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDER_", "AWS_"))}
    new_shell = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    try:
        run = subprocess.run([*make, "run"], env=user, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "log file: s3://recorder-demo-logs/" in run.stdout
        commands = [line.strip() for line in run.stdout.splitlines() if " aws cloudtrail " in line]
        assert [c.split(" aws cloudtrail ")[1].split()[0] for c in commands] == [
            "describe-trails",
            "get-trail-status",
        ]
        answers = []
        for command in commands:
            words = shlex.split(command)
            assignments = dict(w.split("=", 1) for w in words if "=" in w and w[0].isupper())
            rest = [w for w in words if "=" not in w or not w[0].isupper()]
            assert rest[0] == "aws"
            done = subprocess.run(
                [AWS_CLI, *rest[1:]],
                env={**new_shell, **assignments},
                capture_output=True,
                text=True,
                timeout=60,
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

        demo = subprocess.run(
            [RECORDER, "demo", "insights"],
            cwd=tmp_path,  # where .stack is, as in the repository after make run
            env=new_shell,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert "using the local stack in .stack" in demo.stderr
        states = [
            json.loads(line.split(":", 1)[1].strip().rstrip(","))
            for line in demo.stdout.splitlines()
            if line.strip().startswith('"state":')
        ]
        assert states == ["Start", "End"], demo.stdout[-3000:]
    finally:
        subprocess.run([*make, "stop"], env=user, capture_output=True, timeout=120)
