"""Organization membership from AWS Organizations, refreshed into the trail registry.

Every process with a registry (router, API, writer, digester) asks Organizations,
on the configured endpoint and with the configured credentials, which organization
those credentials belong to (DescribeOrganization) and which accounts it has
(ListAccounts, every page), at start and then every ``organizations_refresh``
seconds. ListAccounts answers in the management account (or a delegated
administrator), which is where a recorder serving an organization runs.

A failed read keeps the last good membership (a throttled or briefly unreachable
Organizations must not stop organization trails from logging their members); only
``AWSOrganizationsNotInUseException`` (the account left its organization, or never
had one) clears it. Each outcome is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import Counter, Gauge

from recorder.aws.arn import partition_of_region
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.settings import Settings
from recorder.trails.organizations import Organization

log = get_logger("recorder.organizations")

NOT_IN_USE = "AWSOrganizationsNotInUseException"
#: The ``outcome`` label of recorder_organizations_refresh_total.
OUTCOMES = ("ok", "not_in_use", "failed")
#: A read is bounded: a start-up must not hang on an unreachable Organizations.
_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
)


class OrganizationsFollower:
    """Reads the organization and hands it to ``registry.set_organization``."""

    def __init__(self, settings: Settings, registry: Any, metrics: Metrics) -> None:
        self.settings = settings
        self.registry = registry
        r = metrics.registry
        self._outcomes = Counter(
            "recorder_organizations_refresh_total",
            "Reads of the AWS Organizations membership, by outcome "
            "(ok, not_in_use, failed: the last good membership is kept)",
            ["outcome"],
            registry=r,
        )
        self._accounts = Gauge(
            "recorder_organization_accounts",
            "Accounts of the organization that organization trails log",
            registry=r,
        )
        for outcome in OUTCOMES:  # at 0: an alert takes increase() of "failed"
            self._outcomes.labels(outcome=outcome)

    @property
    def enabled(self) -> bool:
        return self.settings.organizations_refresh > 0

    async def refresh(self) -> Organization | None:
        """One read; returns what the registry now holds."""
        try:
            org = await self._read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == NOT_IN_USE:
                self._outcomes.labels(outcome="not_in_use").inc()
                await self._apply(None)
                return None
            return self._failed(exc)
        except (BotoCoreError, ValueError, KeyError) as exc:
            return self._failed(exc)
        self._outcomes.labels(outcome="ok").inc()
        await self._apply(org)
        return org

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.organizations_refresh)
            if not stop.is_set():
                await self.refresh()

    async def _apply(self, org: Organization | None) -> None:
        before = self.registry.organization
        await self.registry.set_organization(org)
        self._accounts.set(0 if org is None else len(org.accounts))
        if org != before:
            log.info(
                "organization_membership",
                organization_id=None if org is None else org.org_id,
                management_account_id=None if org is None else org.management_account_id,
                accounts=0 if org is None else len(org.accounts),
            )

    def _failed(self, exc: Exception) -> Organization | None:
        self._outcomes.labels(outcome="failed").inc()
        log.warning("organizations_read_failed", error=repr(exc))
        organization: Organization | None = self.registry.organization
        return organization

    async def _read(self) -> Organization:
        # Organizations is a global service: one endpoint per partition, which botocore
        # resolves from any region of it (us-east-1, cn-northwest-1, us-gov-west-1)
        kwargs = {
            **self.settings.aws_client_kwargs(),
            "region_name": partition_of_region(self.settings.aws_region).global_region,
        }
        async with aioboto3.Session().client("organizations", config=_CONFIG, **kwargs) as client:
            describe = (await client.describe_organization())["Organization"]
            accounts: list[dict[str, Any]] = []
            async for page in client.get_paginator("list_accounts").paginate():
                accounts.extend(page.get("Accounts", []))
        return Organization.from_api(describe, accounts)
