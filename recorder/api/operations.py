"""The CloudTrail operations: one handler per operation, over the trail model.

A handler gets the verified caller (account, region of the call) and the validated
input, and returns the output as a dict for :func:`recorder.api.protocol.encode_output`
to shape. The store gives each stored trail document read once into a
:class:`~recorder.trails.TrailDocument` (the :class:`~recorder.trails.Trail` plus the
API's tags and times); a handler changes the ``Trail`` (its methods, or a new one
checked step by step in CloudTrail's order) and the store writes it back as the
document the router and writer read through :meth:`recorder.trails.Trail.from_api`.

Visibility follows the guide and the API reference: an account sees only its own
trails; in a region it sees, by name, the trails created there plus the multi-region
trails created elsewhere (shadow trails, line 459); a trail in another Region is reached
by its ARN (DescribeTrails: "To return information about a trail in another Region, you
must specify its trail ARN"), and is changed only in its home region (line 3110):
UpdateTrail, PutEventSelectors, DeleteTrail and the other writes that model
``InvalidHomeRegionException`` answer it from anywhere else. Another account's trail
answers exactly like an absent one.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from recorder.api import channels
from recorder.api.auth import Principal
from recorder.api.checks import ResourceChecks
from recorder.api.event_configuration import get_event_configuration, put_event_configuration
from recorder.api.insight_selectors import (
    get_insight_selectors,
    put_insight_selectors,
)
from recorder.api.protocol import ApiError
from recorder.api.rules import Rules, TrailRules
from recorder.api.sources import NoPublicKeys, NoStatus, PublicKeySource, StatusSource
from recorder.api.store import TrailStore
from recorder.aws.arn import (
    is_log_group_arn,
    is_role_arn,
    is_trail_arn,
    parse_trail_arn,
    trail_arn,
)
from recorder.aws.times import epoch_ms, format_millis, format_seconds, from_epoch_seconds
from recorder.trails import Trail, TrailDocument
from recorder.trails.errors import answer

MAX_TAGS = 50
#: ListTags' ResourceIdList: "The list has a limit of 20 ARNs" (API reference).
MAX_LIST_TAGS_RESOURCES = 20
#: DescribeTrails gives the event loop back after this many names of its list.
DESCRIBE_YIELD_EVERY = 256

_TAG_KEY = re.compile(r"^[\w.:/=+\-@ ]{1,128}$", re.UNICODE)

#: Operations that change nothing (``readOnly`` in their own records).
READ_ONLY = frozenset(
    {
        "DescribeTrails",
        "GetChannel",
        "GetEventConfiguration",
        "GetEventSelectors",
        "GetInsightSelectors",
        "GetTrail",
        "GetTrailStatus",
        "ListChannels",
        "ListPublicKeys",
        "ListTags",
        "ListTrails",
    }
)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    region: str
    request_id: str = ""

    @property
    def account_id(self) -> str:
        return self.principal.account_id


def now_iso() -> str:
    return format_millis(dt.datetime.now(dt.UTC))


Handler = Callable[[Caller, dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass
class Operations:
    store: TrailStore
    checks: ResourceChecks
    status: StatusSource = field(default_factory=NoStatus)
    public_keys: PublicKeySource = field(default_factory=NoPublicKeys)
    rules: Rules = field(default_factory=TrailRules)
    list_page_size: int = 50
    #: GetChannel's IngestionStatus per channel ARN (the PutAuditEvents of this replica).
    ingestion: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.handlers: dict[str, Handler] = {
            "CreateTrail": self.create_trail,
            "UpdateTrail": self.update_trail,
            "DeleteTrail": self.delete_trail,
            "GetTrail": self.get_trail,
            "DescribeTrails": self.describe_trails,
            "ListTrails": self.list_trails,
            "GetTrailStatus": self.get_trail_status,
            "StartLogging": self.start_logging,
            "StopLogging": self.stop_logging,
            "PutEventSelectors": self.put_event_selectors,
            "GetEventSelectors": self.get_event_selectors,
            "GetInsightSelectors": lambda c, p: get_insight_selectors(self, c, p),
            "PutInsightSelectors": lambda c, p: put_insight_selectors(self, c, p),
            "GetEventConfiguration": lambda c, p: get_event_configuration(self, c, p),
            "PutEventConfiguration": lambda c, p: put_event_configuration(self, c, p),
            "AddTags": self.add_tags,
            "RemoveTags": self.remove_tags,
            "ListTags": self.list_tags,
            "ListPublicKeys": self.list_public_keys,
            "CreateChannel": lambda c, p: channels.create_channel(self.store, c, p),
            "GetChannel": lambda c, p: channels.get_channel(self.store, c, p, self.ingestion),
            "ListChannels": lambda c, p: channels.list_channels(
                self.store, c, p, self.list_page_size
            ),
            "DeleteChannel": lambda c, p: channels.delete_channel(self.store, c, p),
        }

    async def dispatch(
        self, operation: str, caller: Caller, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        handler = self.handlers.get(operation)
        if handler is None:
            raise ApiError(
                "UnsupportedOperationException",
                f"{operation} is not supported by this CloudTrail endpoint",
            )
        if operation in READ_ONLY:
            await self.store.fresh()  # what another replica wrote before this call
            return await handler(caller, params)
        # One writer per account at a time, across replicas (the store's lease): the
        # checks a write makes (name taken, 5 per region) and its publish are atomic.
        async with self.store.exclusive(caller.account_id):
            return await handler(caller, params)

    # -- lookups -----------------------------------------------------------------------
    def _own(self, caller: Caller) -> list[TrailDocument]:
        return self.store.account_trails(caller.account_id)

    def _visible(self, caller: Caller) -> list[TrailDocument]:
        """The caller's trails and the organization trails of its organization: members
        see those (guide line 392) but cannot change them (line 3683)."""
        own = self._own(caller)
        if self.store.organization_of(caller.account_id) is None:
            return own
        return own + [
            d for d in self.store.organization_trails() if self._applies_to(d.trail, caller)
        ]

    def _applies_to(self, trail: Trail, caller: Caller) -> bool:
        """An organization trail of another account of the caller's organization."""
        if not trail.is_organization_trail:
            return False
        org = self.store.organization_of(caller.account_id)
        return org is not None and self.store.organization_of(trail.account_id) == org

    def _find(
        self,
        caller: Caller,
        name_or_arn: str,
        *,
        arn_in_message: bool = False,
        writable: bool = False,
    ) -> TrailDocument:
        """The caller's trail visible in the call's region, by name or ARN (for reading,
        an organization trail applying to the caller, by ARN). Not found names the
        trail as given; GetTrailStatus names the ARN a name would have."""
        found = self._lookup(caller, name_or_arn, writable=writable)
        if found is None:
            raise _not_found(caller, name_or_arn, arn_in_message)
        return found

    def _lookup(
        self, caller: Caller, name_or_arn: str, *, writable: bool = False
    ) -> TrailDocument | None:
        if name_or_arn.startswith("arn:"):
            try:
                arn = parse_trail_arn(name_or_arn)
            except ValueError:
                raise ApiError(
                    "CloudTrailARNInvalidException",
                    f"Invalid trail ARN: {name_or_arn}. The trail ARN must be "
                    "arn:aws:cloudtrail:<region>:<account>:trail/<name>",
                ) from None
            # by ARN, a trail is found from any region (API reference, DescribeTrails);
            # writes then answer InvalidHomeRegionException outside its home region
            if arn.account_id != caller.account_id:
                # another account's trail: decided on the index (no document read for
                # the many a long DescribeTrails can name that the caller cannot see)
                indexed = self.store.indexed(name_or_arn)
                if indexed is None or not self._applies_to(indexed, caller):
                    return None
            found = self.store.trail(name_or_arn)
            if found is None:
                return None
            if arn.account_id == caller.account_id:
                return found
            # a member reads its organization's trail, by ARN only (line 392); changing
            # it answers like any trail it cannot see (a real member's StartLogging did)
            return found if not writable and self._applies_to(found.trail, caller) else None
        self.rules.validate_name(name_or_arn)
        for d in self.store.named(caller.account_id, name_or_arn):
            if d.trail.exists_in(caller.region):
                return d
        return None

    def _find_home(self, caller: Caller, name_or_arn: str) -> TrailDocument:
        found = self._find(caller, name_or_arn, writable=True)
        if found.trail.home_region != caller.region:
            raise ApiError(
                "InvalidHomeRegionException",
                f"This operation must be called from the trail's home region "
                f"{found.trail.home_region}: {found.trail.trail_arn}",
            )
        return found

    def _find_resource(self, caller: Caller, resource_id: str) -> TrailDocument:
        """Tag operations name a trail by ARN; absent or foreign is ResourceNotFound."""
        if not is_trail_arn(resource_id):
            raise ApiError(
                "CloudTrailARNInvalidException",
                f"Invalid resource ARN: {resource_id}. Tags are set on a trail by its ARN",
            )
        found = self._lookup(caller, resource_id, writable=True)
        if found is None:
            raise ApiError("ResourceNotFoundException", f"Resource not found: {resource_id}")
        return found

    # -- checks shared by create and update ---------------------------------------------
    def _check_limit(self, caller: Caller, trail: Trail) -> None:
        """At most five trails per region (guide line 1239); a multi-region trail counts
        in every region. The rule is the trail model's."""
        others = [d.trail for d in self._own(caller) if d.trail.trail_arn != trail.trail_arn]
        self.rules.check_trail_limit(others, trail)

    def _check_name_free(self, caller: Caller, trail: Trail, exclude: str | None = None) -> None:
        regions = {trail.home_region}
        if trail.is_multi_region_trail:
            regions |= {d.trail.home_region for d in self._own(caller)}
        for other in self._own(caller):
            if other.trail.trail_arn == exclude or other.trail.name != trail.name:
                continue
            if any(other.trail.exists_in(r) for r in regions):
                raise ApiError(*answer("trail_exists", name=trail.name, account=caller.account_id))

    async def _apply_destinations(
        self, caller: Caller, trail: Trail, params: Mapping[str, Any], *, creating: bool
    ) -> Trail:
        """Validate and resolve the S3/SNS/KMS/CloudWatch members present in ``params``."""
        account, region = caller.account_id, trail.home_region
        if "S3BucketName" in params:
            self.rules.validate_bucket_name(params["S3BucketName"])
            trail = replace(trail, s3_bucket_name=params["S3BucketName"])
        if "S3KeyPrefix" in params:
            prefix = params["S3KeyPrefix"]
            if prefix:
                self.rules.validate_prefix(prefix)
            trail = replace(trail, s3_key_prefix=prefix or None)
        arn = trail.trail_arn
        if creating or {"S3BucketName", "S3KeyPrefix", "IsOrganizationTrail"} & params.keys():
            org = self.store.organization_of(account) if trail.is_organization_trail else None
            await self.checks.bucket(
                trail.s3_bucket_name,
                trail.s3_key_prefix,
                account,
                region,
                trail_arn=arn,
                organization_id=org,
            )
        if "SnsTopicName" in params:
            topic = params["SnsTopicName"]
            if topic:
                self.rules.validate_sns_topic(topic)
                topic_arn = await self.checks.topic(topic, account, region, trail_arn=arn)
                trail = replace(trail, sns_topic_arn=topic_arn)
            else:
                trail = replace(trail, sns_topic_arn=None)
        if "KmsKeyId" in params:
            key_id = params["KmsKeyId"]
            if key_id:
                self.rules.validate_kms_key_id(key_id)
                key = await self.checks.kms_key(
                    key_id,
                    account,
                    region,
                    trail_arn=arn,
                    bucket=trail.s3_bucket_name,
                )
                trail = replace(trail, kms_key_id=key.arn)
            else:
                trail = replace(trail, kms_key_id=None)
        for member, is_valid, code, attribute in (
            (
                "CloudWatchLogsLogGroupArn",
                is_log_group_arn,
                "InvalidCloudWatchLogsLogGroupArnException",
                "cloud_watch_logs_log_group_arn",
            ),
            (
                "CloudWatchLogsRoleArn",
                is_role_arn,
                "InvalidCloudWatchLogsRoleArnException",
                "cloud_watch_logs_role_arn",
            ),
        ):
            if member in params:
                value = params[member]
                if value and not is_valid(value):
                    raise ApiError(code, f"{member} is not a valid ARN: {value}")
                trail = replace(trail, **{attribute: value or None})
        if bool(trail.cloud_watch_logs_log_group_arn) != bool(trail.cloud_watch_logs_role_arn):
            raise ApiError(
                "InvalidParameterCombinationException",
                "CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn must be given together",
            )
        return trail

    def _check_organization(self, caller: Caller, wanted: bool) -> None:
        """Only an organization's management account makes an organization trail
        (guide line 217)."""
        if not wanted:
            return
        org = self.store.organization_of(caller.account_id)
        if org is None:
            raise ApiError(*answer("organizations_not_in_use"))
        if self.store.management_account_of(org) != caller.account_id:
            raise ApiError(*answer("not_management_account"))

    async def _save(self, document: TrailDocument) -> dict[str, Any]:
        """Store the document, once the model reads back what is written; the stored
        JSON (CreateTrail and UpdateTrail answer from it)."""
        stored = document.to_document()
        self.rules.check_document(stored)
        await self.store.put(document.trail.trail_arn, stored)
        return stored

    # -- trails --------------------------------------------------------------------------
    async def create_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if name.startswith("arn:"):
            raise ApiError(*answer("trail_name_is_arn"))
        self.rules.validate_name(name)
        now = now_iso()
        tags = _tags(p.get("TagsList", []))
        trail = Trail(
            name=name,
            trail_arn=trail_arn(caller.region, caller.account_id, name),
            home_region=caller.region,
            s3_bucket_name=p["S3BucketName"],
            include_global_service_events=p.get("IncludeGlobalServiceEvents", True),
            is_multi_region_trail=p.get("IsMultiRegionTrail", False),
            log_file_validation_enabled=p.get("EnableLogFileValidation", False),
            is_organization_trail=p.get("IsOrganizationTrail", False),
            is_logging=False,
        )
        _check_global_events(trail)
        self.rules.validate_bucket_name(trail.s3_bucket_name)
        self._check_name_free(caller, trail)
        self._check_limit(caller, trail)
        self._check_organization(caller, trail.is_organization_trail)
        trail = await self._apply_destinations(caller, trail, p, creating=True)
        return await self._save(TrailDocument(trail, tags, creation_time=now, update_time=now))

    async def update_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find_home(caller, p["Name"])
        changes = {
            attribute: p[member]
            for member, attribute in (
                ("IncludeGlobalServiceEvents", "include_global_service_events"),
                ("IsMultiRegionTrail", "is_multi_region_trail"),
                ("EnableLogFileValidation", "log_file_validation_enabled"),
                ("IsOrganizationTrail", "is_organization_trail"),
            )
            if member in p
        }
        trail = replace(found.trail, **changes)
        _check_global_events(trail)
        self._check_organization(caller, bool(p.get("IsOrganizationTrail")))
        if p.get("IsMultiRegionTrail"):
            self._check_name_free(caller, trail, exclude=trail.trail_arn)
            self._check_limit(caller, trail)
        trail = await self._apply_destinations(caller, trail, p, creating=False)
        return await self._save(replace(found, trail=trail, update_time=now_iso()))

    async def delete_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find_home(caller, p["Name"])
        # after the call's own record was timed: the trail records its DeleteTrail
        await self.store.delete(found.trail.trail_arn, now_iso())
        forget = getattr(self.status, "forget", None)
        if forget is not None:  # its GetTrailStatus keys on trail-status go too
            forget(found.trail.trail_arn)
        return {}

    async def get_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        return {"Trail": self._find(caller, p["Name"]).trail.to_api()}

    async def describe_trails(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        shadows = p.get("includeShadowTrails", True)
        names = p.get("trailNameList") or []

        def shown(trail: Trail, by_arn: bool = False) -> bool:
            if trail.home_region == caller.region:
                return True
            if trail.exists_in(caller.region):  # a shadow of a multi-region trail
                return bool(shadows)
            return by_arn  # another region's trail: by its ARN only

        if not names:
            found = [d.trail for d in self._visible(caller) if shown(d.trail)]
        else:
            # No cap on the list in the API reference; the answer is bounded by the
            # trails the caller can see, and a long list (a 1 MiB body holds about
            # 100,000 names) gives the event loop back every few hundred lookups, so
            # other callers are answered meanwhile.
            own: dict[str, list[TrailDocument]] = {}
            for d in self._own(caller):
                own.setdefault(d.trail.name, []).append(d)
            found, seen = [], set()
            for i, name in enumerate(dict.fromkeys(names)):
                if i % DESCRIBE_YIELD_EVERY == DESCRIBE_YIELD_EVERY - 1:
                    await asyncio.sleep(0)
                if name.startswith("arn:"):
                    d = self._lookup(caller, name)
                else:
                    self.rules.validate_name(name)
                    d = next(
                        (h for h in own.get(name, ()) if h.trail.exists_in(caller.region)), None
                    )
                by_arn = name.startswith("arn:")
                if d is not None and shown(d.trail, by_arn) and d.trail.trail_arn not in seen:
                    seen.add(d.trail.trail_arn)
                    found.append(d.trail)
        return {"trailList": [t.to_api() for t in sorted(found, key=lambda t: t.trail_arn)]}

    async def list_trails(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        """Every trail of the account, in every region (with HomeRegion), by ARN."""
        trails = sorted(
            (
                {
                    "TrailARN": d.trail.trail_arn,
                    "Name": d.trail.name,
                    "HomeRegion": d.trail.home_region,
                }
                for d in self._visible(caller)
            ),
            key=lambda t: t["TrailARN"],
        )
        start = _decode_token(p.get("NextToken"))
        page = [t for t in trails if start is None or t["TrailARN"] > start]
        out: dict[str, Any] = {"Trails": page[: self.list_page_size]}
        if len(page) > self.list_page_size:
            out["NextToken"] = _encode_token(page[self.list_page_size - 1]["TrailARN"])
        return out

    # -- logging -------------------------------------------------------------------------
    async def get_trail_status(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find(caller, p["Name"], arn_in_message=True)
        trail = found.trail
        # a shadow trail's status is its region's; another region's trail reached by ARN
        # answers its home region's ("returns trail status from a single Region")
        region = caller.region if trail.exists_in(caller.region) else trail.home_region
        out: dict[str, Any] = dict(self.status.status(trail.trail_arn, region))
        out["IsLogging"] = trail.is_logging
        for member, legacy, value in (
            ("StartLoggingTime", "TimeLoggingStarted", found.start_logging_time),
            ("StopLoggingTime", "TimeLoggingStopped", found.stop_logging_time),
        ):
            if value:
                out[member] = value
                out[legacy] = str(value)[:19] + "Z"
            else:
                out[legacy] = ""
        for legacy, member in (
            ("LatestDeliveryAttemptTime", "LatestDeliveryTime"),
            ("LatestNotificationAttemptTime", "LatestNotificationTime"),
        ):
            if legacy not in out:
                out[legacy] = _legacy_time(out.get(member))
        for legacy, member in (
            ("LatestDeliveryAttemptSucceeded", "LatestDeliveryTime"),
            ("LatestNotificationAttemptSucceeded", "LatestNotificationTime"),
        ):
            if legacy not in out:
                out[legacy] = _legacy_time(out.get(member))
        return out

    async def start_logging(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find_home(caller, p["Name"])
        if not found.trail.is_logging:
            at = now_iso()
            trail = found.trail.start_logging(epoch_ms(at))
            await self._save(replace(found, trail=trail, start_logging_time=at))
        return {}

    async def stop_logging(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find_home(caller, p["Name"])
        trail = found.trail
        insights_were_on = trail.has_insight_selectors or bool(trail.insight_types)
        trail = trail.without_insights()  # guide line 3662
        if trail.is_logging:
            # after the call's own record was timed: the trail records its StopLogging
            at = now_iso()
            trail = trail.stop_logging(epoch_ms(at))
            await self._save(replace(found, trail=trail, stop_logging_time=at))
        elif insights_were_on:
            await self._save(replace(found, trail=trail))
        return {}

    # -- selectors -----------------------------------------------------------------------
    async def put_event_selectors(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        basic, advanced = p.get("EventSelectors"), p.get("AdvancedEventSelectors")
        if (basic is None) == (advanced is None):
            raise ApiError(
                "InvalidEventSelectorsException",
                "Specify either EventSelectors or AdvancedEventSelectors, not both or neither",
            )
        found = self._find_home(caller, p["TrailName"])
        if basic is not None:
            trail = replace(
                found.trail,
                event_selectors=self.rules.validate_event_selectors(basic),
                advanced_event_selectors=(),
            )
        else:
            trail = replace(
                found.trail,
                event_selectors=(),
                advanced_event_selectors=self.rules.validate_advanced_event_selectors(advanced),
            )
        await self._save(replace(found, trail=trail, update_time=now_iso()))
        return trail.event_selectors_api()

    async def get_event_selectors(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        return self._find(caller, p["TrailName"]).trail.event_selectors_api()

    # -- tags ----------------------------------------------------------------------------
    async def add_tags(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find_resource(caller, p["ResourceId"])
        tags = dict(found.tags)
        tags.update(_tags(p.get("TagsList", [])))
        if len(tags) > MAX_TAGS:
            raise ApiError(
                "TagsLimitExceededException",
                f"The number of tags on {found.trail.trail_arn} would exceed {MAX_TAGS}",
            )
        await self._save(replace(found, tags=tuple(tags.items())))
        return {}

    async def remove_tags(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        found = self._find_resource(caller, p["ResourceId"])
        gone = {t["Key"] for t in p.get("TagsList", [])}
        await self._save(replace(found, tags=tuple(t for t in found.tags if t[0] not in gone)))
        return {}

    async def list_tags(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        if len(p["ResourceIdList"]) > MAX_LIST_TAGS_RESOURCES:
            raise ApiError(*answer("too_many_resources", limit=MAX_LIST_TAGS_RESOURCES))
        out = []
        for resource_id in p["ResourceIdList"]:
            found = self._find_resource(caller, resource_id)
            out.append({"ResourceId": found.trail.trail_arn, "TagsList": found.tags_api()})
        return {"ResourceTagList": out}

    # -- integrity -----------------------------------------------------------------------
    async def list_public_keys(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("NextToken"):
            raise ApiError("InvalidTokenException", "Reached the end of the list of keys")
        end = p.get("EndTime") or dt.datetime.now(dt.UTC)
        start = p.get("StartTime") or end - dt.timedelta(days=1)
        if start > end:
            raise ApiError("InvalidTimeRangeException", "StartTime must not be later than EndTime")
        keys = self.public_keys.public_keys(caller.region, caller.account_id, start, end)
        return {"PublicKeyList": list(keys)}


def _check_global_events(trail: Trail) -> None:
    if trail.is_multi_region_trail and not trail.include_global_service_events:
        raise ApiError(*answer("multi_region_needs_global"))


def _tags(tags: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for t in tags:
        key, value = str(t["Key"]), str(t.get("Value") or "")
        if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
            raise ApiError("InvalidTagParameterException", f"Invalid tag key: {key!r}")
        if len(value) > 256:
            raise ApiError("InvalidTagParameterException", f"Tag value too long for key {key!r}")
        out[key] = value
    if len(out) > MAX_TAGS:
        raise ApiError("TagsLimitExceededException", f"A trail can have at most {MAX_TAGS} tags")
    return tuple(out.items())


def _not_found(caller: Caller, name: str, arn_in_message: bool = False) -> ApiError:
    if arn_in_message and not name.startswith("arn:"):
        name = trail_arn(caller.region, caller.account_id, name)
    return ApiError(*answer("trail_not_found", name=name, account=caller.account_id))


def _legacy_time(value: Any) -> str:
    """The deprecated string time members (``"2015-09-01T20:35:57Z"``, or ``""``)."""
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        return format_seconds(value)
    if isinstance(value, int | float):
        return format_seconds(from_epoch_seconds(value))
    return str(value)[:19] + "Z"


def _encode_token(arn: str) -> str:
    return base64.urlsafe_b64encode(arn.encode()).decode()


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        arn = base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        arn = ""
    if not is_trail_arn(arn):
        raise ApiError("InvalidTokenException", "The NextToken is not valid")
    return arn
