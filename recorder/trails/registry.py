"""The trail registry every service reads: the current trails and their compiled engine.

Sources: a trails file (JSON or YAML: a list of trails in DescribeTrails shape plus
``IsLogging``/``EventSelectors``/``AdvancedEventSelectors``, or an object
``{"trails": [...], "organizations": {"<account>": "o-..."}}``), reloaded when it
changes. The router reads :meth:`engine` per batch, so a change takes effect
without a restart; the swap is one reference assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from recorder.delivery.target import DeliveryTarget
from recorder.obs.logging import get_logger
from recorder.routing import RoutingEngine
from recorder.settings import Settings
from recorder.trails import Trail

log = get_logger("recorder.registry")


def load_trails_document(raw: bytes | str) -> tuple[list[Trail], dict[str, str]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        doc: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = yaml.safe_load(text)
    organizations: dict[str, str] = {}
    if isinstance(doc, dict):
        organizations = {str(k): str(v) for k, v in (doc.get("organizations") or {}).items()}
        doc = doc.get("trails", [])
    if not isinstance(doc, list):
        raise ValueError("trails document must be a list of trails or {'trails': [...]}")
    return [Trail.from_api(t) for t in doc], organizations


@dataclass
class TrailRegistry:
    settings: Settings
    trails: dict[str, Trail] = field(default_factory=dict)
    organizations: dict[str, str] = field(default_factory=dict)
    version: int = 0

    def __post_init__(self) -> None:
        self._engine = RoutingEngine.compile([], {})
        self._mtime: float | None = None

    @classmethod
    async def start(cls, settings: Settings) -> TrailRegistry:
        registry = cls(settings)
        registry.reload_file()
        return registry

    # -- reading ----------------------------------------------------------------------
    def engine(self) -> RoutingEngine:
        return self._engine

    def get(self, trail_arn: str) -> Trail | None:
        return self.trails.get(trail_arn)

    def target(self, trail_arn: str) -> DeliveryTarget | None:
        trail = self.trails.get(trail_arn)
        if trail is None:
            return None
        return DeliveryTarget(
            bucket=trail.s3_bucket_name,
            prefix=trail.s3_key_prefix,
            kms_key_id=trail.kms_key_id,
            sns_topic_arn=trail.sns_topic_arn,
            log_file_validation=trail.log_file_validation_enabled,
        )

    # -- changing ---------------------------------------------------------------------
    def replace(self, trails: list[Trail], organizations: dict[str, str]) -> None:
        engine = RoutingEngine.compile(trails, organizations)
        self.trails = {t.trail_arn: t for t in trails}
        self.organizations = dict(organizations)
        self._engine = engine
        self.version += 1
        log.info("trails_loaded", trails=len(trails), version=self.version)

    def reload_file(self) -> bool:
        path: Path | None = self.settings.trails_file
        if path is None:
            return False
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            log.warning("trails_file_missing", path=str(path))
            return False
        if mtime == self._mtime:
            return False
        try:
            trails, orgs = load_trails_document(path.read_bytes())
        except Exception as exc:  # a bad edit keeps the last good trail set
            log.error("trails_file_invalid", path=str(path), error=str(exc))
            self._mtime = mtime
            return False
        self._mtime = mtime
        self.replace(trails, orgs)
        return True

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
            self.reload_file()

    async def close(self) -> None:
        return None
