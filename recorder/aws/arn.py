"""ARNs: ``arn:<partition>:<service>:<region>:<account>:<resource>``.

botocore's :class:`~botocore.utils.ArnParser` splits an ARN (the resource keeps its
own colons); the rules on top say which ARNs CloudTrail takes where. A trail ARN is
``arn:<partition>:cloudtrail:<region>:<account>:trail/<name>``: the partition is
``aws`` or ``aws-<word>...`` (aws-cn, aws-us-gov), the region a real region's
shape, the account twelve digits, and the name a trail name, which never holds a
``/`` (guide, "CloudTrail Trail Naming Requirements").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from botocore.loaders import create_loader
from botocore.utils import ArnParser, InvalidArnException

#: The partitions' shape, for grammars of ARN prefixes (event selector values).
PARTITION = r"aws(?:-[a-z]+)*"
_PARTITION = re.compile(PARTITION)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
_ANY_REGION = re.compile(r"[a-z0-9-]+")  # log group ARNs have always been read this loosely
_ACCOUNT = re.compile(r"\d{12}")
_NO_REGION = re.compile("")  # global resources: IAM
_LOG_GROUP = re.compile(r"log-group:[^:]+(?::\*)?")
_ROLE = re.compile(r"role/.+")
_PARSER = ArnParser()


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str  # empty for global resources (IAM roles, S3 objects)
    account: str  # empty for S3 buckets and objects
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(value: object) -> Arn:
    """The six fields of an ARN; ValueError naming the value for anything else."""
    if isinstance(value, str) and value.startswith("arn:"):
        try:
            fields = _PARSER.parse_arn(value)
        except InvalidArnException:
            pass
        else:
            return Arn(
                fields["partition"],
                fields["service"],
                fields["region"],
                fields["account"],
                fields["resource"],
            )
    raise ValueError(f"{value!r} is not an ARN (arn:partition:service:region:account:resource)")


def arn_or_none(value: object) -> Arn | None:
    """:func:`parse_arn` for a caller with a fallback of its own (a default region)."""
    try:
        return parse_arn(value)
    except ValueError:
        return None


def is_arn(value: object) -> bool:
    return bool(ArnParser.is_arn(value))


def account_of(arn: str) -> str:
    """The account field (empty for an S3 ARN); ValueError on a non-ARN."""
    return parse_arn(arn).account


def region_of(arn: str) -> str:
    """The region field (empty for a global resource); ValueError on a non-ARN."""
    return parse_arn(arn).region


def partition_of(value: str) -> str:
    """The partition of an ARN or of a service-wide ARN prefix such as ``arn:aws:s3``.

    Event selectors' ``DataResources`` values name all of a service's resources
    that way, which ArnParser (six fields or nothing) cannot read.
    """
    head, _, rest = value.partition(":") if isinstance(value, str) else ("", "", "")
    partition = rest.split(":", 1)[0]
    if head != "arn" or not partition:
        raise ValueError(f"{value!r} is not an ARN or ARN prefix (arn:partition:service...)")
    return partition


# -- partitions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Partition:
    """What a partition spells differently: ARNs (``arn:aws-cn:...``), endpoint host
    names (``sts.cn-north-1.amazonaws.com.cn``) and the region its global services
    (IAM) sign for, where CloudTrail logs their events."""

    name: str  # aws, aws-cn, aws-us-gov, ...
    dns_suffix: str  # amazonaws.com, amazonaws.com.cn, ...
    global_region: str  # us-east-1, cn-north-1, us-gov-west-1, ...
    regions: frozenset[str]
    region_regex: str


@functools.cache
def _partitions() -> tuple[Partition, ...]:
    """botocore's partition table (``partitions.json``), with the region IAM's global
    endpoint signs for in each (``endpoints.json``): the data the SDKs resolve with,
    so a region AWS adds arrives with botocore, not with a table of ours."""
    loader = create_loader()
    iam_scopes: dict[str, str] = {}
    for entry in loader.load_data("endpoints")["partitions"]:
        iam: dict[str, Any] = entry.get("services", {}).get("iam", {})
        global_endpoint = iam.get("endpoints", {}).get(iam.get("partitionEndpoint", ""), {})
        region = global_endpoint.get("credentialScope", {}).get("region")
        if region:
            iam_scopes[entry["partition"]] = region
    out = []
    for entry in loader.load_data("partitions")["partitions"]:
        outputs = entry["outputs"]
        name = outputs.get("name", entry["id"])
        regions = frozenset(entry.get("regions", {}))  # with aws-global, aws-cn-global ...
        out.append(
            Partition(
                name=name,
                dns_suffix=outputs["dnsSuffix"],
                global_region=iam_scopes.get(name, outputs.get("implicitGlobalRegion", "")),
                regions=regions,
                region_regex=entry["regionRegex"],
            )
        )
    return tuple(out)


@functools.cache
def partition_of_region(region: str) -> Partition:
    """The partition a region belongs to, as the SDKs resolve it: a region the table
    lists, else the first partition whose region pattern matches, else ``aws``."""
    table = _partitions()
    for p in table:
        if region in p.regions:
            return p
    for p in table:
        if re.match(p.region_regex, region):
            return p
    return partition_named("aws")


def partition_for(region: str) -> str:
    """``us-east-1`` -> ``aws``, ``cn-north-1`` -> ``aws-cn``, ``us-gov-west-1`` ->
    ``aws-us-gov``: the partition field of every ARN built for that region."""
    return partition_of_region(region).name


def partition_named(name: str) -> Partition:
    """A partition by name; ValueError for one botocore does not know."""
    for p in _partitions():
        if p.name == name:
            return p
    known = ", ".join(p.name for p in _partitions())
    raise ValueError(f"unknown partition {name!r} (one of {known})")


def same_partition(region: str, other: str) -> bool:
    """Credentials, endpoints and ARNs of one partition are unknown in another."""
    return partition_for(region) == partition_for(other)


def regional_endpoint(service: str, region: str) -> str:
    """``https://<service>.<region>.<dns suffix>``: a service's regional endpoint in the
    region's own partition (``https://sts.cn-north-1.amazonaws.com.cn``)."""
    return f"https://{service}.{region}.{partition_of_region(region).dns_suffix}"


def s3_arn(bucket: str, key: str | None = None, *, partition: str) -> str:
    """``arn:<partition>:s3:::bucket`` or ``...:::bucket/key`` (S3 ARNs name no region
    or account, so the partition is the caller's to give: the region's)."""
    return f"arn:{partition}:s3:::{bucket}" + ("" if key is None else f"/{key}")


def is_account_id(value: object) -> bool:
    return isinstance(value, str) and _ACCOUNT.fullmatch(value) is not None


def is_region(value: object) -> bool:
    return isinstance(value, str) and _REGION.fullmatch(value) is not None


def _arn_of(value: object, service: str, region: re.Pattern[str]) -> Arn | None:
    arn = arn_or_none(value)
    if (
        arn is None
        or arn.service != service
        or _PARTITION.fullmatch(arn.partition) is None
        or region.fullmatch(arn.region) is None
        or not is_account_id(arn.account)
    ):
        return None
    return arn


def regional_arn(value: object, service: str) -> Arn | None:
    """``value`` as an ARN of ``service`` in a partition, a region and an account of the
    right shapes (trails, SNS topics, KMS keys), else None; the resource is the caller's."""
    return _arn_of(value, service, _REGION)


@dataclass(frozen=True, slots=True)
class TrailArn:
    partition: str
    region: str  # the trail's home region
    account_id: str  # the trail's owner
    name: str

    def __str__(self) -> str:
        return trail_arn(self.region, self.account_id, self.name, self.partition)


def trail_arn(region: str, account_id: str, name: str, partition: str | None = None) -> str:
    """The ARN CloudTrail gives a trail created in ``region`` (its home region), in
    that region's partition unless one is given."""
    partition = partition or partition_for(region)
    return f"arn:{partition}:cloudtrail:{region}:{account_id}:trail/{name}"


def parse_trail_arn(value: object) -> TrailArn:
    """A trail ARN's fields; ValueError naming the value for anything else."""
    arn = regional_arn(value, "cloudtrail")
    name = arn.resource.removeprefix("trail/") if arn is not None else ""
    if arn is None or not arn.resource.startswith("trail/") or not name or "/" in name:
        raise ValueError(
            f"{value!r} is not a trail ARN (arn:<partition>:cloudtrail:<region>:<account>:"
            "trail/<name>)"
        )
    return TrailArn(arn.partition, arn.region, arn.account, name)


def is_trail_arn(value: object) -> bool:
    try:
        parse_trail_arn(value)
    except ValueError:
        return False
    return True


def is_channel_arn(value: str) -> bool:
    """A CloudTrail channel's ARN (``arn:...:cloudtrail:<region>:<account>:channel/<id>``):
    channels and trails share the ``trails`` topic, keyed by their ARNs."""
    parts = value.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "cloudtrail"
        and parts[5].startswith("channel/")
    )


def is_log_group_arn(value: object) -> bool:
    """``arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]`` (CloudWatchLogsLogGroupArn)."""
    arn = _arn_of(value, "logs", _ANY_REGION)
    return arn is not None and _LOG_GROUP.fullmatch(arn.resource) is not None


def is_role_arn(value: object) -> bool:
    """``arn:<partition>:iam::<account>:role/<path and name>`` (CloudWatchLogsRoleArn)."""
    arn = _arn_of(value, "iam", _NO_REGION)
    return arn is not None and _ROLE.fullmatch(arn.resource) is not None
