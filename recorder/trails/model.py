"""The trail: DescribeTrails/GetTrail fields plus IsLogging and its event selectors.

A trail is immutable; a change is a new trail (the registry swaps whole trail sets and
the routing engine is recompiled from them). :meth:`Trail.from_api` is the one way in
from JSON and validates everything, so any ``Trail`` in the system is one CloudTrail
would have accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from recorder.aws.arn import is_log_group_arn, is_region, is_role_arn
from recorder.trails.arn import parse_trail_arn
from recorder.trails.errors import TrailError
from recorder.trails.event_selectors import (
    DEFAULT_EVENT_SELECTORS,
    AdvancedEventSelector,
    EventSelector,
    parse_selectors,
    selectors_to_api,
)
from recorder.trails.logging_state import (
    LoggingPeriod,
    logging_at,
    parse_logging_periods,
    periods_to_api,
    start_period,
    stop_period,
)
from recorder.trails.naming import (
    sns_topic_name,
    validate_bucket_name,
    validate_kms_key_id,
    validate_s3_key_prefix,
    validate_sns_topic,
    validate_trail_name,
)

_DESCRIBE_FIELDS = frozenset(
    {
        "Name",
        "S3BucketName",
        "S3KeyPrefix",
        "SnsTopicName",
        "SnsTopicARN",
        "IncludeGlobalServiceEvents",
        "IsMultiRegionTrail",
        "HomeRegion",
        "TrailARN",
        "LogFileValidationEnabled",
        "CloudWatchLogsLogGroupArn",
        "CloudWatchLogsRoleArn",
        "KmsKeyId",
        "HasCustomEventSelectors",
        "HasInsightSelectors",
        "IsOrganizationTrail",
    }
)
_EXTRA_FIELDS = frozenset(
    {
        "IsLogging",
        "EventSelectors",
        "AdvancedEventSelectors",
        "LoggingPeriods",
        "InsightSelectors",
        "AggregationConfigurations",
    }
)
#: PutInsightSelectors' InsightType values (API reference, InsightSelector).
INSIGHT_TYPES = ("ApiCallRateInsight", "ApiErrorRateInsight")
#: InsightSelector.EventCategories (API reference): the events an Insights type counts;
#: without them, management events (the only kind before data-event Insights).
INSIGHT_CATEGORIES = ("Management", "Data")
DEFAULT_INSIGHT_CATEGORIES: tuple[str, ...] = ("Management",)
#: AggregationConfiguration.Templates (API reference); EventCategory is always Data.
AGGREGATION_TEMPLATES = ("API_ACTIVITY", "RESOURCE_ACCESS", "USER_ACTIONS")
#: Members the control API keeps in the stored trail documents for itself (tags, the
#: trail's history). They ride along and are ignored here; any other unknown member is
#: refused, so that a misspelt field in a trails file is an error, not a silent default.
API_DOCUMENT_MEMBERS = frozenset(
    {"Tags", "CreationTime", "UpdateTime", "StartLoggingTime", "StopLoggingTime"}
)


@dataclass(frozen=True, slots=True)
class Trail:
    name: str
    trail_arn: str
    home_region: str
    s3_bucket_name: str
    s3_key_prefix: str | None = None
    sns_topic_arn: str | None = None
    include_global_service_events: bool = True
    is_multi_region_trail: bool = False
    is_organization_trail: bool = False
    log_file_validation_enabled: bool = False
    cloud_watch_logs_log_group_arn: str | None = None
    cloud_watch_logs_role_arn: str | None = None
    kms_key_id: str | None = None
    has_insight_selectors: bool = False
    is_logging: bool = True
    event_selectors: tuple[EventSelector, ...] = ()
    advanced_event_selectors: tuple[AdvancedEventSelector, ...] = ()
    logging_periods: tuple[LoggingPeriod, ...] = ()
    insight_types: tuple[str, ...] = ()  # GetInsightSelectors' InsightType values
    # (InsightType, EventCategories) where the categories were given; else Management
    insight_categories: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # PutEventConfiguration's AggregationConfigurations (EventCategory Data) templates
    aggregation_templates: tuple[str, ...] = ()

    # -- derived ----------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        """The owner: the account in the trail ARN."""
        return parse_trail_arn(self.trail_arn).account_id

    @property
    def sns_topic_name(self) -> str | None:
        return None if self.sns_topic_arn is None else sns_topic_name(self.sns_topic_arn)

    @property
    def has_custom_event_selectors(self) -> bool:
        return bool(self.event_selectors or self.advanced_event_selectors)

    def logging_at(self, second: int, produced_ms: int | None = None) -> bool:
        """Whether the trail logs an event of ``second`` (epoch seconds), produced at
        ``produced_ms`` if known: by its logging periods, or by ``is_logging`` when it
        has none (line 8394)."""
        return logging_at(self.logging_periods, self.is_logging, second, produced_ms)

    def exists_in(self, region: str) -> bool:
        """Created in ``region``, or multi-region: then it exists in every region (a
        shadow trail outside its home region, guide line 459)."""
        return self.is_multi_region_trail or self.home_region == region

    @property
    def routable(self) -> bool:
        """Logging now, or was in a recorded period: events of it may still arrive."""
        return self.is_logging or bool(self.logging_periods)

    @property
    def effective_event_selectors(self) -> tuple[EventSelector, ...]:
        """The basic selectors in force: the default when none were put (line 4532)."""
        if self.advanced_event_selectors:
            return ()
        return self.event_selectors or DEFAULT_EVENT_SELECTORS

    def categories_of(self, insight_type: str) -> tuple[str, ...]:
        """The event categories the Insights type counts on this trail (none if off)."""
        if insight_type not in self.insight_types:
            return ()
        return dict(self.insight_categories).get(insight_type, DEFAULT_INSIGHT_CATEGORIES)

    # -- changes (a change is a new trail) ---------------------------------------------
    def start_logging(self, at: int) -> Trail:
        """StartLogging at ``at`` (epoch ms): logging, in a period opened then."""
        return replace(
            self, is_logging=True, logging_periods=start_period(self.logging_periods, at)
        )

    def stop_logging(self, at: int) -> Trail:
        """StopLogging at ``at`` (epoch ms): the open period closes then."""
        return replace(
            self, is_logging=False, logging_periods=stop_period(self.logging_periods, at)
        )

    def without_insights(self) -> Trail:
        """Insights off (PutInsightSelectors with none; StopLogging, guide line 3662)."""
        return replace(self, has_insight_selectors=False, insight_types=(), insight_categories=())

    # -- API shapes -------------------------------------------------------------------
    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> Trail:
        """A trail from DescribeTrails shape, plus optional ``IsLogging`` (default true)
        and ``EventSelectors`` or ``AdvancedEventSelectors`` (GetEventSelectors shape).
        Raises :class:`TrailError` with the code CloudTrail would answer with."""
        if not isinstance(doc, Mapping):
            raise TrailError("InvalidParameterException", f"A trail is an object, not {doc!r}.")
        for key in doc:
            if not (key in _DESCRIBE_FIELDS or key in _EXTRA_FIELDS or key in API_DOCUMENT_MEMBERS):
                raise TrailError("InvalidParameterException", f"Unknown trail member {key!r}.")
        name = doc.get("Name")
        validate_trail_name(name)
        assert isinstance(name, str)
        arn_text = doc.get("TrailARN")
        if arn_text is None:
            raise TrailError("InvalidParameterException", f"Trail {name}: TrailARN is required.")
        arn = parse_trail_arn(arn_text)
        if arn.name != name:
            raise TrailError(
                "CloudTrailARNInvalidException",
                f"Trail ARN {arn_text} does not name trail {name}.",
            )
        home = doc.get("HomeRegion", arn.region)
        if not is_region(home) or home != arn.region:
            raise TrailError(
                "InvalidHomeRegionException",
                f"Trail {name}: HomeRegion {home!r} is not the region of {arn_text}.",
            )
        validate_bucket_name(doc.get("S3BucketName"))
        prefix = doc.get("S3KeyPrefix")
        if prefix is not None:
            validate_s3_key_prefix(prefix)
        topic_arn = _sns_topic_arn(doc, arn.partition, home, arn.account_id)
        kms = doc.get("KmsKeyId")
        if kms is not None:
            validate_kms_key_id(kms)
        log_group, role = doc.get("CloudWatchLogsLogGroupArn"), doc.get("CloudWatchLogsRoleArn")
        _validate_cloudwatch(name, log_group, role)
        basic, advanced = parse_selectors(
            doc.get("EventSelectors"), doc.get("AdvancedEventSelectors")
        )
        insights, categories = _insight_selectors(name, doc.get("InsightSelectors"))
        templates = parse_aggregation_configurations(doc.get("AggregationConfigurations"))
        return cls(
            name=name,
            trail_arn=arn_text,
            home_region=home,
            s3_bucket_name=doc["S3BucketName"],
            s3_key_prefix=prefix or None,
            sns_topic_arn=topic_arn,
            include_global_service_events=_flag(doc, "IncludeGlobalServiceEvents", True),
            is_multi_region_trail=_flag(doc, "IsMultiRegionTrail", False),
            is_organization_trail=_flag(doc, "IsOrganizationTrail", False),
            log_file_validation_enabled=_flag(doc, "LogFileValidationEnabled", False),
            cloud_watch_logs_log_group_arn=log_group,
            cloud_watch_logs_role_arn=role,
            kms_key_id=kms,
            has_insight_selectors=_flag(doc, "HasInsightSelectors", False) or bool(insights),
            is_logging=_flag(doc, "IsLogging", True),
            event_selectors=basic,
            advanced_event_selectors=advanced,
            logging_periods=parse_logging_periods(doc),
            insight_types=insights,
            insight_categories=categories,
            aggregation_templates=templates,
        )

    def to_api(self) -> dict[str, Any]:
        """The trail as DescribeTrails/GetTrail return it (absent values left out)."""
        out: dict[str, Any] = {
            "Name": self.name,
            "S3BucketName": self.s3_bucket_name,
            "S3KeyPrefix": self.s3_key_prefix,
            "SnsTopicName": self.sns_topic_name,
            "SnsTopicARN": self.sns_topic_arn,
            "IncludeGlobalServiceEvents": self.include_global_service_events,
            "IsMultiRegionTrail": self.is_multi_region_trail,
            "HomeRegion": self.home_region,
            "TrailARN": self.trail_arn,
            "LogFileValidationEnabled": self.log_file_validation_enabled,
            "CloudWatchLogsLogGroupArn": self.cloud_watch_logs_log_group_arn,
            "CloudWatchLogsRoleArn": self.cloud_watch_logs_role_arn,
            "KmsKeyId": self.kms_key_id,
            "HasCustomEventSelectors": self.has_custom_event_selectors,
            "HasInsightSelectors": self.has_insight_selectors,
            "IsOrganizationTrail": self.is_organization_trail,
        }
        return {k: v for k, v in out.items() if v is not None}

    def event_selectors_api(self) -> dict[str, Any]:
        """GetEventSelectors output for this trail."""
        return {
            "TrailARN": self.trail_arn,
            **selectors_to_api(self.event_selectors, self.advanced_event_selectors),
        }

    def to_document(self) -> dict[str, Any]:
        """Everything about the trail in one JSON object; ``from_api`` reads it back."""
        doc = {**self.to_api(), "IsLogging": self.is_logging}
        if self.logging_periods:
            doc["LoggingPeriods"] = periods_to_api(self.logging_periods)
        if self.has_custom_event_selectors:
            doc.update(selectors_to_api(self.event_selectors, self.advanced_event_selectors))
        if self.insight_types:
            given = dict(self.insight_categories)
            doc["InsightSelectors"] = [
                {"InsightType": t, **({"EventCategories": list(given[t])} if t in given else {})}
                for t in self.insight_types
            ]
        if self.aggregation_templates:
            doc["AggregationConfigurations"] = self.aggregation_configurations_api()
        return doc

    def aggregation_configurations_api(self) -> list[dict[str, Any]]:
        """GetEventConfiguration's ``AggregationConfigurations`` (none: empty)."""
        if not self.aggregation_templates:
            return []
        return [{"Templates": list(self.aggregation_templates), "EventCategory": "Data"}]


def _flag(doc: Mapping[str, Any], key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise TrailError("InvalidParameterException", f"{key} must be true or false: {value!r}")
    return value


def _insight_selectors(
    name: str, selectors: object
) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """``InsightSelectors`` (PutInsightSelectors' shape) -> the Insights types on, and
    the event categories of those that name theirs."""
    if selectors is None:
        return (), ()
    if not isinstance(selectors, list):
        raise TrailError("InvalidInsightSelectorsException", f"Trail {name}: not a list.")
    out: list[str] = []
    categories: list[tuple[str, tuple[str, ...]]] = []
    for s in selectors:
        kind = s.get("InsightType") if isinstance(s, Mapping) else None
        if kind not in INSIGHT_TYPES or kind in out:
            raise TrailError(
                "InvalidInsightSelectorsException", f"Trail {name}: bad InsightType {kind!r}."
            )
        out.append(kind)
        given = s.get("EventCategories")
        if given is not None:
            categories.append((kind, parse_insight_categories(given)))
    return tuple(out), tuple(categories)


def parse_insight_categories(given: object) -> tuple[str, ...]:
    """``InsightSelector.EventCategories``: Management and/or Data, each once."""
    if not isinstance(given, list) or not given:
        raise TrailError(
            "InvalidInsightSelectorsException",
            f"EventCategories must list Management, Data or both, not {given!r}.",
        )
    for c in given:
        if c not in INSIGHT_CATEGORIES:
            raise TrailError(
                "InvalidInsightSelectorsException",
                f"Invalid EventCategories value {c!r}: valid values are Management and Data.",
            )
    if len(set(given)) != len(given):
        raise TrailError("InvalidInsightSelectorsException", f"EventCategories repeats: {given}.")
    return tuple(given)


def parse_aggregation_configurations(raw: object) -> tuple[str, ...]:
    """PutEventConfiguration's ``AggregationConfigurations`` -> the templates on (API
    reference: at most one configuration, EventCategory ``Data``, 1 to 50 templates of
    API_ACTIVITY, RESOURCE_ACCESS, USER_ACTIONS). An empty list turns aggregation off.
    Raises ``InvalidParameterException`` as CloudTrail's enum checks do."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > 1:
        raise TrailError(
            "InvalidParameterException",
            "AggregationConfigurations takes at most one aggregation configuration.",
        )
    if not raw:
        return ()
    (config,) = raw
    if not isinstance(config, Mapping) or config.get("EventCategory") != "Data":
        category = config.get("EventCategory") if isinstance(config, Mapping) else config
        raise TrailError(
            "InvalidParameterException",
            f"Invalid EventCategory {category!r} for aggregation: the valid value is Data.",
        )
    templates = config.get("Templates")
    if not isinstance(templates, list) or not 1 <= len(templates) <= 50:
        raise TrailError("InvalidParameterException", "Templates must list 1 to 50 templates.")
    for t in templates:
        if t not in AGGREGATION_TEMPLATES:
            raise TrailError(
                "InvalidParameterException",
                f"Invalid aggregation template {t!r}: valid values are "
                f"{', '.join(AGGREGATION_TEMPLATES)}.",
            )
    return tuple(dict.fromkeys(templates))


def _sns_topic_arn(doc: Mapping[str, Any], partition: str, region: str, account: str) -> str | None:
    """SnsTopicARN as given, else the ARN of SnsTopicName (a name or an ARN) in the
    trail's home region and account, which is where CloudTrail looks it up."""
    topic = doc.get("SnsTopicARN") or doc.get("SnsTopicName")
    if topic is None:
        return None
    validate_sns_topic(topic)
    if topic.startswith("arn:"):
        return str(topic)
    return f"arn:{partition}:sns:{region}:{account}:{topic}"


def _validate_cloudwatch(name: str, log_group: object, role: object) -> None:
    if log_group is not None and (not is_log_group_arn(log_group)):
        raise TrailError(
            "InvalidCloudWatchLogsLogGroupArnException",
            f"Trail {name}: {log_group!r} is not a log group ARN.",
        )
    if role is not None and not is_role_arn(role):
        raise TrailError(
            "InvalidCloudWatchLogsRoleArnException", f"Trail {name}: {role!r} is not a role ARN."
        )
    if (log_group is None) != (role is None):
        code = (
            "InvalidCloudWatchLogsRoleArnException"
            if role is None
            else "InvalidCloudWatchLogsLogGroupArnException"
        )
        raise TrailError(code, f"Trail {name}: a log group needs a role, and a role a log group.")
