"""The CloudTrail operations: one handler per operation, over trail documents.

A handler gets the verified caller (account, region of the call) and the validated
input, and returns the output as a dict for :func:`recorder.api.protocol.encode_output`
to shape. Trail documents are DescribeTrails' ``Trail`` plus what the other
operations need (``IsLogging``, ``EventSelectors``/``AdvancedEventSelectors``,
``Tags``, logging and creation times); they are what the router and writer read
through :meth:`recorder.trails.Trail.from_api`.

Visibility follows the guide: an account sees only its own trails; in a region it
sees the trails created there plus the multi-region trails created elsewhere
(shadow trails, line 459); a trail is changed only in its home region (line 3110).
Another account's trail answers exactly like an absent one.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recorder.api.auth import Principal
from recorder.api.checks import ResourceChecks
from recorder.api.insight_selectors import (
    get_insight_selectors,
    insights_off,
    put_insight_selectors,
)
from recorder.api.protocol import ApiError
from recorder.api.rules import Rules, TrailRules
from recorder.api.sources import NoPublicKeys, NoStatus, PublicKeySource, StatusSource
from recorder.api.store import Document, TrailStore
from recorder.aws.arn import (
    is_log_group_arn,
    is_role_arn,
    is_trail_arn,
    parse_trail_arn,
    trail_arn,
)
from recorder.aws.times import format_millis, format_seconds, from_epoch_seconds
from recorder.trails.errors import answer
from recorder.trails.logging_state import started, stopped

#: CloudTrail's default for a new trail (guide line 4608): all management events.
DEFAULT_EVENT_SELECTORS: list[dict[str, Any]] = [
    {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    }
]
MAX_TAGS = 50

_TAG_KEY = re.compile(r"^[\w.:/=+\-@ ]{1,128}$", re.UNICODE)

#: Operations that change nothing (``readOnly`` in their own records).
READ_ONLY = frozenset(
    {
        "DescribeTrails",
        "GetEventSelectors",
        "GetInsightSelectors",
        "GetTrail",
        "GetTrailStatus",
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


def _account_of(doc: Mapping[str, Any]) -> str:
    try:
        return parse_trail_arn(doc.get("TrailARN")).account_id
    except ValueError:
        return ""


def visible_in(doc: Mapping[str, Any], region: str) -> bool:
    """Created in ``region``, or multi-region (a shadow trail there)."""
    return doc.get("HomeRegion") == region or bool(doc.get("IsMultiRegionTrail"))


Handler = Callable[[Caller, dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass
class Operations:
    store: TrailStore
    checks: ResourceChecks
    status: StatusSource = field(default_factory=NoStatus)
    public_keys: PublicKeySource = field(default_factory=NoPublicKeys)
    rules: Rules = field(default_factory=TrailRules)
    list_page_size: int = 50

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
            "AddTags": self.add_tags,
            "RemoveTags": self.remove_tags,
            "ListTags": self.list_tags,
            "ListPublicKeys": self.list_public_keys,
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
            return await handler(caller, params)
        # One writer per account at a time, across replicas (the store's lease): the
        # checks a write makes (name taken, 5 per region) and its publish are atomic.
        async with self.store.exclusive(caller.account_id):
            return await handler(caller, params)

    # -- lookups -----------------------------------------------------------------------
    def _own(self, caller: Caller) -> list[Document]:
        return [d for d in self.store.documents() if _account_of(d) == caller.account_id]

    def _visible(self, caller: Caller) -> list[Document]:
        """The caller's trails and the organization trails of its organization: members
        see those (guide line 392) but cannot change them (line 3683)."""
        return [
            d
            for d in self.store.documents()
            if _account_of(d) == caller.account_id or self._applies_to(d, caller)
        ]

    def _applies_to(self, doc: Mapping[str, Any], caller: Caller) -> bool:
        """An organization trail of another account of the caller's organization."""
        if not doc.get("IsOrganizationTrail"):
            return False
        org = self.store.organization_of(caller.account_id)
        return org is not None and self.store.organization_of(_account_of(doc)) == org

    def _find(
        self,
        caller: Caller,
        name_or_arn: str,
        *,
        arn_in_message: bool = False,
        writable: bool = False,
    ) -> Document:
        """The caller's trail visible in the call's region, by name or ARN (for reading,
        an organization trail applying to the caller, by ARN). Not found names the
        trail as given; GetTrailStatus names the ARN a name would have."""
        doc = self._lookup(caller, name_or_arn, writable=writable)
        if doc is None:
            raise _not_found(caller, name_or_arn, arn_in_message)
        return copy.deepcopy(doc)

    def _lookup(
        self, caller: Caller, name_or_arn: str, *, writable: bool = False
    ) -> Document | None:
        if name_or_arn.startswith("arn:"):
            try:
                arn = parse_trail_arn(name_or_arn)
            except ValueError:
                raise ApiError(
                    "CloudTrailARNInvalidException",
                    f"Invalid trail ARN: {name_or_arn}. The trail ARN must be "
                    "arn:aws:cloudtrail:<region>:<account>:trail/<name>",
                ) from None
            doc = self.store.document(name_or_arn)
            if doc is None or not visible_in(doc, caller.region):
                return None
            if arn.account_id == caller.account_id:
                return doc
            # a member reads its organization's trail, by ARN only (line 392); changing
            # it answers like any trail it cannot see (a real member's StartLogging did)
            return doc if not writable and self._applies_to(doc, caller) else None
        self.rules.validate_name(name_or_arn)
        for doc in self._own(caller):
            if doc.get("Name") == name_or_arn and visible_in(doc, caller.region):
                return doc
        return None

    def _find_home(self, caller: Caller, name_or_arn: str) -> Document:
        doc = self._find(caller, name_or_arn, writable=True)
        if doc.get("HomeRegion") != caller.region:
            raise ApiError(
                "InvalidHomeRegionException",
                f"This operation must be called from the trail's home region "
                f"{doc.get('HomeRegion')}: {doc.get('TrailARN')}",
            )
        return doc

    def _find_resource(self, caller: Caller, resource_id: str) -> Document:
        """Tag operations name a trail by ARN; absent or foreign is ResourceNotFound."""
        if not is_trail_arn(resource_id):
            raise ApiError(
                "CloudTrailARNInvalidException",
                f"Invalid resource ARN: {resource_id}. Tags are set on a trail by its ARN",
            )
        doc = self._lookup(caller, resource_id, writable=True)
        if doc is None:
            raise ApiError("ResourceNotFoundException", f"Resource not found: {resource_id}")
        return copy.deepcopy(doc)

    # -- checks shared by create and update ---------------------------------------------
    def _check_limit(self, caller: Caller, doc: Document) -> None:
        """At most five trails per region (guide line 1239); a multi-region trail counts
        in every region. The rule is the trail model's."""
        others = [d for d in self._own(caller) if d.get("TrailARN") != doc["TrailARN"]]
        self.rules.check_trail_limit(others, doc)

    def _check_name_free(self, caller: Caller, doc: Document, exclude: str | None = None) -> None:
        regions = {str(doc["HomeRegion"])}
        if doc.get("IsMultiRegionTrail"):
            regions |= {str(d.get("HomeRegion")) for d in self._own(caller)}
        for other in self._own(caller):
            if other.get("TrailARN") == exclude or other.get("Name") != doc["Name"]:
                continue
            if any(visible_in(other, r) for r in regions):
                raise ApiError(*answer("trail_exists", name=doc["Name"], account=caller.account_id))

    async def _apply_destinations(
        self, caller: Caller, doc: Document, params: Mapping[str, Any], *, creating: bool
    ) -> None:
        """Validate and resolve the S3/SNS/KMS/CloudWatch members present in ``params``."""
        account, region = caller.account_id, str(doc["HomeRegion"])
        if "S3BucketName" in params:
            self.rules.validate_bucket_name(params["S3BucketName"])
            doc["S3BucketName"] = params["S3BucketName"]
        if "S3KeyPrefix" in params:
            prefix = params["S3KeyPrefix"]
            if prefix:
                self.rules.validate_prefix(prefix)
                doc["S3KeyPrefix"] = prefix
            else:
                doc.pop("S3KeyPrefix", None)
        trail = str(doc["TrailARN"])
        if creating or {"S3BucketName", "S3KeyPrefix", "IsOrganizationTrail"} & params.keys():
            org = self.store.organization_of(account) if doc.get("IsOrganizationTrail") else None
            await self.checks.bucket(
                doc["S3BucketName"],
                doc.get("S3KeyPrefix"),
                account,
                region,
                trail_arn=trail,
                organization_id=org,
            )
        if "SnsTopicName" in params:
            topic = params["SnsTopicName"]
            if topic:
                self.rules.validate_sns_topic(topic)
                arn = await self.checks.topic(topic, account, region, trail_arn=trail)
                doc["SnsTopicName"] = arn.rsplit(":", 1)[-1]
                doc["SnsTopicARN"] = arn
            else:
                doc.pop("SnsTopicName", None)
                doc.pop("SnsTopicARN", None)
        if "KmsKeyId" in params:
            key_id = params["KmsKeyId"]
            if key_id:
                self.rules.validate_kms_key_id(key_id)
                key = await self.checks.kms_key(
                    key_id,
                    account,
                    region,
                    trail_arn=trail,
                    bucket=str(doc.get("S3BucketName", "")),
                )
                doc["KmsKeyId"] = key.arn
            else:
                doc.pop("KmsKeyId", None)
        for member, is_valid, code in (
            (
                "CloudWatchLogsLogGroupArn",
                is_log_group_arn,
                "InvalidCloudWatchLogsLogGroupArnException",
            ),
            ("CloudWatchLogsRoleArn", is_role_arn, "InvalidCloudWatchLogsRoleArnException"),
        ):
            if member in params:
                value = params[member]
                if value and not is_valid(value):
                    raise ApiError(code, f"{member} is not a valid ARN: {value}")
                if value:
                    doc[member] = value
                else:
                    doc.pop(member, None)
        if bool(doc.get("CloudWatchLogsLogGroupArn")) != bool(doc.get("CloudWatchLogsRoleArn")):
            raise ApiError(
                "InvalidParameterCombinationException",
                "CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn must be given together",
            )

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

    async def _save(self, doc: Document) -> Document:
        self.rules.check_document(doc)
        await self.store.put(str(doc["TrailARN"]), doc)
        return doc

    # -- trails --------------------------------------------------------------------------
    async def create_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if name.startswith("arn:"):
            raise ApiError(*answer("trail_name_is_arn"))
        self.rules.validate_name(name)
        now = now_iso()
        doc: Document = {
            "Name": name,
            "TrailARN": trail_arn(caller.region, caller.account_id, name),
            "HomeRegion": caller.region,
            "S3BucketName": p["S3BucketName"],
            "IncludeGlobalServiceEvents": p.get("IncludeGlobalServiceEvents", True),
            "IsMultiRegionTrail": p.get("IsMultiRegionTrail", False),
            "LogFileValidationEnabled": p.get("EnableLogFileValidation", False),
            "IsOrganizationTrail": p.get("IsOrganizationTrail", False),
            "HasCustomEventSelectors": False,
            "HasInsightSelectors": False,
            "IsLogging": False,
            "Tags": _tags(p.get("TagsList", [])),
            "CreationTime": now,
            "UpdateTime": now,
        }
        _check_global_events(doc)
        self.rules.validate_bucket_name(doc["S3BucketName"])
        self._check_name_free(caller, doc)
        self._check_limit(caller, doc)
        self._check_organization(caller, doc["IsOrganizationTrail"])
        await self._apply_destinations(caller, doc, p, creating=True)
        return await self._save(doc)

    async def update_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find_home(caller, p["Name"])
        for member, target in (
            ("IncludeGlobalServiceEvents", "IncludeGlobalServiceEvents"),
            ("IsMultiRegionTrail", "IsMultiRegionTrail"),
            ("EnableLogFileValidation", "LogFileValidationEnabled"),
            ("IsOrganizationTrail", "IsOrganizationTrail"),
        ):
            if member in p:
                doc[target] = p[member]
        _check_global_events(doc)
        self._check_organization(caller, bool(p.get("IsOrganizationTrail")))
        if p.get("IsMultiRegionTrail"):
            self._check_name_free(caller, doc, exclude=doc["TrailARN"])
            self._check_limit(caller, doc)
        await self._apply_destinations(caller, doc, p, creating=False)
        doc["UpdateTime"] = now_iso()
        return await self._save(doc)

    async def delete_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find_home(caller, p["Name"])
        await self.store.delete(str(doc["TrailARN"]))
        return {}

    async def get_trail(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        return {"Trail": self._find(caller, p["Name"])}

    async def describe_trails(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        shadows = p.get("includeShadowTrails", True)
        names = p.get("trailNameList") or []

        def shown(doc: Document) -> bool:
            if doc.get("HomeRegion") == caller.region:
                return True
            return bool(shadows) and visible_in(doc, caller.region)

        if not names:
            found = [d for d in self._visible(caller) if shown(d)]
        else:
            found, seen = [], set()
            for name in names:
                doc = self._lookup(caller, name)
                if doc is not None and shown(doc) and doc["TrailARN"] not in seen:
                    seen.add(doc["TrailARN"])
                    found.append(doc)
        return {"trailList": sorted(found, key=lambda d: str(d["TrailARN"]))}

    async def list_trails(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        """Every trail of the account, in every region (with HomeRegion), by ARN."""
        trails = sorted(
            (
                {"TrailARN": d["TrailARN"], "Name": d["Name"], "HomeRegion": d["HomeRegion"]}
                for d in self._visible(caller)
            ),
            key=lambda t: str(t["TrailARN"]),
        )
        start = _decode_token(p.get("NextToken"))
        page = [t for t in trails if start is None or t["TrailARN"] > start]
        out: dict[str, Any] = {"Trails": page[: self.list_page_size]}
        if len(page) > self.list_page_size:
            out["NextToken"] = _encode_token(page[self.list_page_size - 1]["TrailARN"])
        return out

    # -- logging -------------------------------------------------------------------------
    async def get_trail_status(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find(caller, p["Name"], arn_in_message=True)
        out: dict[str, Any] = dict(self.status.status(str(doc["TrailARN"]), caller.region))
        out["IsLogging"] = bool(doc.get("IsLogging"))
        for member, legacy in (
            ("StartLoggingTime", "TimeLoggingStarted"),
            ("StopLoggingTime", "TimeLoggingStopped"),
        ):
            value = doc.get(member)
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
        doc = self._find_home(caller, p["Name"])
        if not doc.get("IsLogging"):
            doc["IsLogging"] = True
            doc["StartLoggingTime"] = now_iso()
            doc["LoggingPeriods"] = started(doc.get("LoggingPeriods"), doc["StartLoggingTime"])
            await self._save(doc)
        return {}

    async def stop_logging(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find_home(caller, p["Name"])
        insights_were_on = insights_off(doc)  # guide line 3662
        if doc.get("IsLogging"):
            # after the call's own record was timed: the trail records its StopLogging
            doc["IsLogging"] = False
            doc["StopLoggingTime"] = now_iso()
            doc["LoggingPeriods"] = stopped(doc.get("LoggingPeriods"), doc["StopLoggingTime"])
            await self._save(doc)
        elif insights_were_on:
            await self._save(doc)
        return {}

    # -- selectors -----------------------------------------------------------------------
    async def put_event_selectors(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        basic, advanced = p.get("EventSelectors"), p.get("AdvancedEventSelectors")
        if (basic is None) == (advanced is None):
            raise ApiError(
                "InvalidEventSelectorsException",
                "Specify either EventSelectors or AdvancedEventSelectors, not both or neither",
            )
        doc = self._find_home(caller, p["TrailName"])
        if basic is not None:
            selectors = self.rules.validate_event_selectors(basic)
            doc["EventSelectors"] = selectors
            doc.pop("AdvancedEventSelectors", None)
            out = {"TrailARN": doc["TrailARN"], "EventSelectors": selectors}
        else:
            selectors = self.rules.validate_advanced_event_selectors(advanced)
            doc["AdvancedEventSelectors"] = selectors
            doc.pop("EventSelectors", None)
            out = {"TrailARN": doc["TrailARN"], "AdvancedEventSelectors": selectors}
        doc["HasCustomEventSelectors"] = True
        doc["UpdateTime"] = now_iso()
        await self._save(doc)
        return out

    async def get_event_selectors(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find(caller, p["TrailName"])
        out: dict[str, Any] = {"TrailARN": doc["TrailARN"]}
        if doc.get("AdvancedEventSelectors"):
            out["AdvancedEventSelectors"] = doc["AdvancedEventSelectors"]
        else:
            out["EventSelectors"] = doc.get("EventSelectors") or DEFAULT_EVENT_SELECTORS
        return out

    # -- tags ----------------------------------------------------------------------------
    async def add_tags(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find_resource(caller, p["ResourceId"])
        tags = {t["Key"]: t.get("Value", "") for t in doc.get("Tags", [])}
        tags.update({t["Key"]: t["Value"] for t in _tags(p.get("TagsList", []))})
        if len(tags) > MAX_TAGS:
            raise ApiError(
                "TagsLimitExceededException",
                f"The number of tags on {doc['TrailARN']} would exceed {MAX_TAGS}",
            )
        doc["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        await self._save(doc)
        return {}

    async def remove_tags(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._find_resource(caller, p["ResourceId"])
        gone = {t["Key"] for t in p.get("TagsList", [])}
        doc["Tags"] = [t for t in doc.get("Tags", []) if t["Key"] not in gone]
        await self._save(doc)
        return {}

    async def list_tags(self, caller: Caller, p: dict[str, Any]) -> dict[str, Any]:
        out = []
        for resource_id in p["ResourceIdList"]:
            doc = self._find_resource(caller, resource_id)
            out.append({"ResourceId": doc["TrailARN"], "TagsList": doc.get("Tags", [])})
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


def _check_global_events(doc: Mapping[str, Any]) -> None:
    if doc.get("IsMultiRegionTrail") and not doc.get("IncludeGlobalServiceEvents"):
        raise ApiError(*answer("multi_region_needs_global"))


def _tags(tags: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
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
    return [{"Key": k, "Value": v} for k, v in out.items()]


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
