"""An empty RECORDER_DELIVERY_PRINCIPAL is the process's own identity, as STS names it."""

from __future__ import annotations

from typing import Any

import pytest

from recorder.services.principal import with_delivery_principal
from recorder.settings import Settings, SettingsError


class Sts:
    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.calls = 0

    async def get_caller_identity(self) -> dict[str, Any]:
        self.calls += 1
        return {"Arn": self.arn, "Account": "444455556666", "UserId": "AROA:x"}


async def test_an_irsa_session_stands_for_its_role() -> None:
    sts = Sts("arn:aws:sts::444455556666:assumed-role/recorder-writer/botocore-session-17")
    settings = await with_delivery_principal(Settings(), sts)
    assert settings.delivery_principal == "arn:aws:iam::444455556666:role/recorder-writer"
    assert sts.calls == 1


async def test_a_set_principal_is_kept_and_sts_is_not_asked() -> None:
    sts = Sts("arn:aws:sts::444455556666:assumed-role/other/s")
    role = "arn:aws-us-gov:iam::444455556666:role/writer"
    gov = Settings(delivery_principal=role, aws_region="us-gov-west-1")
    assert (await with_delivery_principal(gov, sts)).delivery_principal == role
    assert sts.calls == 0


async def test_an_identity_that_cannot_be_a_principal_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="set it to the writer's role ARN"):
        await with_delivery_principal(Settings(), Sts("arn:aws:sts::123456789012:user/moto"))


def test_a_service_principal_is_refused_without_an_emulator() -> None:
    with pytest.raises(
        SettingsError, match=r"RECORDER_DELIVERY_PRINCIPAL=cloudtrail\.amazonaws\.com"
    ):
        Settings(delivery_principal="cloudtrail.amazonaws.com")
    emulator = Settings(
        delivery_principal="cloudtrail.amazonaws.com", aws_endpoint_url="http://127.0.0.1:5000"
    )
    assert emulator.delivery_principal == "cloudtrail.amazonaws.com"
    with pytest.raises(SettingsError, match="RECORDER_DELIVERY_PRINCIPAL: 'bucket' is not"):
        Settings(delivery_principal="bucket")


def test_the_principal_is_in_the_deployments_partition() -> None:
    with pytest.raises(SettingsError, match="is in partition aws-us-gov, RECORDER_AWS_REGION"):
        Settings(delivery_principal="arn:aws-us-gov:iam::444455556666:role/w")
