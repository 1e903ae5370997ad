"""Terraform's ``aws_cloudtrail`` against the control API: apply, a plan with no
changes (what the provider reads back matches what it wrote), destroy.

Offline: terraform must find the AWS provider on this machine. We look for a
filesystem mirror (``RECORDER_TEST_TF_PLUGIN_DIR``, then the usual places) and write
a CLI config that installs ``hashicorp/aws`` only from it; without terraform or the
provider the test is skipped, saying which is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from recorder.stack.local import LocalStack
from tests.integration.helpers import aws, cloudtrail_bucket
from tests.integration.test_api import ALICE, start_api

CONFIG = Path(__file__).with_name("terraform")
PROVIDER = "registry.terraform.io/hashicorp/aws"
MIRRORS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def provider_mirror() -> Path | None:
    """A filesystem-mirror directory holding hashicorp/aws for this platform."""
    candidates = [os.environ.get("RECORDER_TEST_TF_PLUGIN_DIR", ""), *MIRRORS]
    for raw in candidates:
        if not raw:
            continue
        root = Path(raw).expanduser()
        if any((root / PROVIDER).glob("*/*/terraform-provider-aws*")):
            return root
    return None


TERRAFORM = shutil.which("terraform")
MIRROR = provider_mirror()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        TERRAFORM is None, reason="terraform is not installed on this machine (not on PATH)"
    ),
    pytest.mark.skipif(
        MIRROR is None,
        reason=f"the terraform AWS provider ({PROVIDER}) is not on this machine: set "
        f"RECORDER_TEST_TF_PLUGIN_DIR to a filesystem mirror (looked in {', '.join(MIRRORS)})",
    ),
]


@pytest.fixture(scope="module")
def api_port(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_api(stack, tmp_path_factory.mktemp("api-tf"))
    try:
        yield port
    finally:
        proc.stop()


def terraform(
    config: Path, tmp_path: Path, stack: LocalStack, api_port: int, **variables: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """A copy of ``config`` in ``tmp_path`` and a runner of ``terraform`` on it: the
    AWS provider from the local mirror, CloudTrail on the control API at ``api_port``,
    every other service on the stack's moto, and no credentials from the environment;
    ``variables`` become ``TF_VAR_*``."""
    work = tmp_path / "tf"
    shutil.copytree(config, work)
    rc_file = tmp_path / "terraformrc"
    rc_file.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{MIRROR}"\n    include = ["{PROVIDER}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
        "}\n"
    )
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc_file),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "TF_DATA_DIR": str(tmp_path / "tf-data"),
        "TF_VAR_cloudtrail_endpoint": f"http://127.0.0.1:{api_port}",
        "TF_VAR_aws_endpoint": stack.aws_endpoint_url,
        **{f"TF_VAR_{k}": v for k, v in variables.items()},
    }
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)

    def tf(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TERRAFORM), *args, "-no-color"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return tf


def test_terraform_apply_plan_destroy(stack: LocalStack, api_port: int, tmp_path: Path) -> None:
    cloudtrail_bucket(aws(stack, "s3"), "terraform-logs")
    tf = terraform(CONFIG, tmp_path, stack, api_port, bucket="terraform-logs")

    init = tf("init", "-input=false")
    assert init.returncode == 0, init.stdout + init.stderr
    apply = tf("apply", "-auto-approve", "-input=false")
    assert apply.returncode == 0, apply.stdout + apply.stderr

    arn = f"arn:aws:cloudtrail:us-east-1:{ALICE}:trail/terraform-trail"
    outputs = json.loads(tf("output", "-json").stdout)
    assert outputs["arn"]["value"] == arn
    assert outputs["home_region"]["value"] == "us-east-1"

    ct = boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{api_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    trail = ct.get_trail(Name="terraform-trail")["Trail"]
    assert trail["IsMultiRegionTrail"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["S3KeyPrefix"] == "tf"
    assert ct.get_trail_status(Name="terraform-trail")["IsLogging"] is True
    selectors = ct.get_event_selectors(TrailName="terraform-trail")["EventSelectors"]
    assert [s["ReadWriteType"] for s in selectors] == ["All", "WriteOnly"]
    assert selectors[1]["ExcludeManagementEventSources"] == ["kms.amazonaws.com"]
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [
        {"Key": "Owner", "Value": "terraform"}
    ]

    plan = tf("plan", "-detailed-exitcode", "-input=false")
    assert plan.returncode == 0, "no changes expected:\n" + plan.stdout + plan.stderr

    destroy = tf("destroy", "-auto-approve", "-input=false")
    assert destroy.returncode == 0, destroy.stdout + destroy.stderr
    with pytest.raises(ct.exceptions.TrailNotFoundException):
        ct.get_trail(Name="terraform-trail")
