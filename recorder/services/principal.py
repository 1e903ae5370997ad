"""The delivery principal of a process that checks grants (API) or delivers (writer).

``RECORDER_DELIVERY_PRINCIPAL`` names it; left empty it is the identity the process's
own AWS credentials have, asked of STS (``GetCallerIdentity``) once at start, in the
region's partition through its regional endpoint: what the writer really signs its
puts with, so a policy that grants anyone else never passes the checks. An IRSA or
instance-profile session (``arn:aws:sts::...:assumed-role/<role>/<session>``) stands
for its role, which is what a bucket policy names. A role with a path is spelled
without it by STS: name such a role in the setting.
"""

from __future__ import annotations

from typing import Any

import aioboto3

from recorder.aws.arn import regional_endpoint
from recorder.obs.logging import get_logger
from recorder.policies.principal import Principal
from recorder.settings import Settings, SettingsError

log = get_logger("recorder.run")


async def with_delivery_principal(settings: Settings, sts: Any = None) -> Settings:
    """``settings`` with the delivery principal filled in (unchanged when it is set)."""
    if settings.delivery_principal:
        principal = Principal.parse(settings.delivery_principal)
        log.info("delivery_principal", principal=str(principal), source="setting")
        return settings
    if sts is None:
        kwargs = settings.aws_client_kwargs()
        kwargs.setdefault("endpoint_url", regional_endpoint("sts", settings.aws_region))
        async with aioboto3.Session().client("sts", **kwargs) as client:
            return await with_delivery_principal(settings, client)
    arn = str((await sts.get_caller_identity())["Arn"])
    try:
        principal = Principal.parse(arn)
    except ValueError as exc:
        raise SettingsError(
            f"RECORDER_DELIVERY_PRINCIPAL is empty and the process's own identity {arn} "
            f"cannot be one ({exc}); set it to the writer's role ARN"
        ) from None
    log.info("delivery_principal", principal=str(principal), source="sts", identity=arn)
    return settings.model_copy(update={"delivery_principal": principal.name})


__all__ = ["with_delivery_principal"]
