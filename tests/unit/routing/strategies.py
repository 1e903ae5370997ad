"""Hypothesis strategies for valid trail sets and CloudTrail records, drawn from small
pools so that selectors and events often meet (and often just miss)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "us-west-2")
ORGS = ("o-aaaaaaaaaa", "o-bbbbbbbbbb")
SOURCES = (
    "s3.amazonaws.com",
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "kms.amazonaws.com",
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
)
NAMES = (
    "GetObject",
    "PutObject",
    "DeleteObject",
    "Invoke",
    "DescribeInstances",
    "RunInstances",
    "Decrypt",
    "CreateUser",
    "AssumeRole",
    "ConsoleLogin",
)
BUCKETS = ("b1", "b2", "b10")
KEYS = ("img/a.jpg", "img/x/y", "doc", "imgz")
FUNCTIONS = tuple(
    f"arn:aws:lambda:us-east-2:{a}:function:{f}" for a in ACCOUNTS[:2] for f in ("f", "fx")
)
OBJECT_ARNS = tuple(f"arn:aws:s3:::{b}/{k}" for b in BUCKETS for k in KEYS)
S3_VALUES = (
    "arn:aws:s3",
    "arn:aws:s3:::",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b1/",
    "arn:aws:s3:::b1/img",
    "arn:aws:s3:::b1/img/x",
    "arn:aws:s3:::b10/",
    "arn:aws:s3:::b2/doc",
)
LAMBDA_VALUES = ("arn:aws:lambda", *FUNCTIONS, FUNCTIONS[0] + ":1")
RESOURCE_TYPES = ("AWS::S3::Object", "AWS::Lambda::Function")


def _some(pool: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)


@st.composite
def basic_selector(draw: st.DrawFn) -> dict[str, Any]:
    s: dict[str, Any] = {}
    if draw(st.booleans()):
        s["ReadWriteType"] = draw(st.sampled_from(["All", "ReadOnly", "WriteOnly", "None"]))
    if draw(st.booleans()):
        s["IncludeManagementEvents"] = draw(st.booleans())
    if draw(st.booleans()):
        s["ExcludeManagementEventSources"] = draw(
            st.sampled_from([[], ["kms.amazonaws.com"], [""]])
        )
    resources = []
    if draw(st.integers(0, 3)):
        resources.append({"Type": "AWS::S3::Object", "Values": draw(_some(S3_VALUES))})
    if draw(st.booleans()):
        resources.append({"Type": "AWS::Lambda::Function", "Values": draw(_some(LAMBDA_VALUES))})
    if resources or draw(st.booleans()):
        s["DataResources"] = resources
    return s


USER_ARNS = (
    "arn:aws:iam::111111111111:user/a",
    "arn:aws:sts::111111111111:assumed-role/deploy/ci",
)
_OPS = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")
_FIELD_POOLS = {
    "eventSource": (*SOURCES, "s3", "kms", ".amazonaws.com", "amazonaws.com", "x"),
    "eventName": (*NAMES, "Get", "Put", "Object", "Instances", "Desc"),
    "eventType": ("AwsApiCall", "AwsServiceEvent", "AwsConsoleAction", "Aws"),
    "userIdentity.arn": (*USER_ARNS, "arn:aws:iam::", "arn:aws:sts::", "/ci", "user/a"),
    "sessionCredentialFromConsole": ("true", "false"),
    "vpcEndpointId": ("vpce-0a1", "vpce-0b2", "vpce-0", "1"),
    "errorCode": ("VpceAccessDenied",),
    "resources.ARN": OBJECT_ARNS
    + FUNCTIONS
    + (
        "arn:aws:s3:::b1/",
        "arn:aws:s3:::b1",
        "arn:aws:lambda:",
        ".jpg",
        "/y",
        "f",
        "arn:aws:s3",
    ),
}


@st.composite
def field_selector(draw: st.DrawFn, field: str) -> dict[str, Any]:
    ops = draw(st.lists(st.sampled_from(_OPS), min_size=1, max_size=2, unique=True))
    return {"Field": field, **{op: draw(_some(_FIELD_POOLS[field])) for op in ops}}


@st.composite
def advanced_selector(draw: st.DrawFn) -> dict[str, Any]:
    category = draw(st.sampled_from(["Management", "Data", "NetworkActivity"]))
    fields = [{"Field": "eventCategory", "Equals": [category]}]
    if category != "NetworkActivity" and draw(st.booleans()):
        fields.append({"Field": "readOnly", "Equals": [draw(st.sampled_from(["true", "false"]))]})
    optional = ["eventSource", "eventName"]
    if category == "Data":
        fields.append(
            {"Field": "resources.type", "Equals": [draw(st.sampled_from(RESOURCE_TYPES))]}
        )
        optional += ["resources.ARN", "eventType", "userIdentity.arn"]
        optional.append("sessionCredentialFromConsole")
    elif category == "NetworkActivity":
        # one event source, Equals only (AWS's rule for network activity selectors)
        source = draw(st.sampled_from(_FIELD_POOLS["eventSource"]))
        fields.append({"Field": "eventSource", "Equals": [source]})
        optional = ["eventName", "errorCode", "vpcEndpointId", "userIdentity.arn"]
    for field in optional:
        if draw(st.booleans()):
            fields.append(draw(field_selector(field)))
    return {"FieldSelectors": draw(st.permutations(fields))}


#: A few seconds around which logging periods start and stop, and events happen.
EVENT_TIMES = [f"2026-12-01T05:00:0{i}Z" for i in range(6)]


@st.composite
def trail_doc(draw: st.DrawFn, index: int) -> dict[str, Any]:
    account = draw(st.sampled_from(ACCOUNTS[:2]))
    region = draw(st.sampled_from(REGIONS))
    name = f"trail-{index}"
    doc: dict[str, Any] = {
        "Name": name,
        "TrailARN": f"arn:aws:cloudtrail:{region}:{account}:trail/{name}",
        "HomeRegion": region,
        "S3BucketName": "logs-bucket",
        "IsMultiRegionTrail": draw(st.booleans()),
        "IncludeGlobalServiceEvents": draw(st.booleans()),
        "IsOrganizationTrail": draw(st.booleans()),
        "IsLogging": draw(st.sampled_from([True, True, True, False])),
    }
    if draw(st.booleans()):  # logging periods: routing by the event's time (line 8394)
        bounds = sorted(draw(st.lists(st.sampled_from(EVENT_TIMES), min_size=1, max_size=4)))
        periods = [
            {"StartLoggingTime": a, "StopLoggingTime": b}
            for a, b in zip(bounds[::2], bounds[1::2], strict=False)
        ]
        if len(bounds) % 2:
            periods.append({"StartLoggingTime": bounds[-1]})
        doc["LoggingPeriods"] = periods
        doc["IsLogging"] = "StopLoggingTime" not in periods[-1]
    kind = draw(st.sampled_from(["default", "basic", "basic", "advanced", "advanced"]))
    if kind == "basic":
        doc["EventSelectors"] = draw(st.lists(basic_selector(), min_size=1, max_size=3))
    elif kind == "advanced":
        doc["AdvancedEventSelectors"] = draw(st.lists(advanced_selector(), min_size=1, max_size=3))
    return doc


@st.composite
def trail_docs(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=7))
    return [draw(trail_doc(i)) for i in range(n)]


organizations = st.dictionaries(
    st.sampled_from(ACCOUNTS), st.sampled_from(ORGS), min_size=1, max_size=3
)


@st.composite
def s3_resources(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An object, owned (by accountId on it, or on its bucket's resource) or not."""
    arn = draw(st.sampled_from(OBJECT_ARNS))
    bucket = arn.split(":::")[1].split("/")[0]
    obj: dict[str, Any] = {"type": "AWS::S3::Object", "ARN": arn}
    out = [obj]
    owner = draw(st.none() | st.sampled_from(ACCOUNTS))
    if owner is not None and draw(st.booleans()):
        obj["accountId"] = owner
    elif owner is not None:
        out.append({"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}", "accountId": owner})
    return out


@st.composite
def lambda_resources(draw: st.DrawFn) -> list[dict[str, Any]]:
    arn = draw(st.sampled_from((*FUNCTIONS, FUNCTIONS[0] + ":1", FUNCTIONS[1] + ":$LATEST")))
    return [{"type": "AWS::Lambda::Function", "ARN": arn, "accountId": arn.split(":")[4]}]


@st.composite
def cloudtrail_record(draw: st.DrawFn) -> dict[str, Any]:
    account = draw(st.sampled_from(ACCOUNTS[:2]))
    kind = draw(st.sampled_from(["any", "s3", "lambda"]))
    if kind == "s3":
        source, name = "s3.amazonaws.com", draw(st.sampled_from(NAMES[:3]))
        groups = draw(st.lists(s3_resources(), min_size=1, max_size=2))
    elif kind == "lambda":
        source, name = "lambda.amazonaws.com", "Invoke"
        groups = draw(st.lists(lambda_resources(), min_size=1, max_size=2))
    else:
        source, name = draw(st.sampled_from(SOURCES)), draw(st.sampled_from(NAMES))
        groups = draw(st.lists(s3_resources() | lambda_resources(), max_size=2))
    r: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventSource": source,
        "eventName": name,
        "awsRegion": draw(st.sampled_from(REGIONS)),
        "recipientAccountId": account,
        "eventID": "ev",
        "eventTime": draw(st.sampled_from(EVENT_TIMES)),
        "userIdentity": {"type": "IAMUser", "accountId": account},
    }
    if draw(st.booleans()):
        r["readOnly"] = draw(st.booleans())
    if kind == "any" and draw(st.booleans()):
        r["eventCategory"] = draw(st.sampled_from(["Management", "Data"]))
        r["managementEvent"] = r["eventCategory"] == "Management"
    if groups:
        r["resources"] = [x for g in groups for x in g]
    if draw(st.booleans()):
        r["userIdentity"]["arn"] = draw(st.sampled_from(USER_ARNS))
    if draw(st.booleans()):
        r["eventType"] = draw(st.sampled_from(["AwsApiCall", "AwsServiceEvent"]))
    if draw(st.booleans()):
        r["sessionCredentialFromConsole"] = "true"
    if draw(st.booleans()):
        r["vpcEndpointId"] = draw(st.sampled_from(["vpce-0a1", "vpce-0b2"]))
    if kind == "any" and draw(st.integers(0, 5)) == 0:
        r["eventCategory"] = "NetworkActivity"
        r["managementEvent"] = False
        if draw(st.booleans()):
            r["errorCode"] = "VpceAccessDenied"
    if source == "sts.amazonaws.com" and draw(st.booleans()):
        host = draw(st.sampled_from(["sts.amazonaws.com", f"sts.{r['awsRegion']}.amazonaws.com"]))
        r["tlsDetails"] = {"clientProvidedHostHeader": host}
    return r


#: The operator's owners file: some of the buckets the records touch, owned by someone.
bucket_owners = st.dictionaries(
    st.sampled_from(sorted({a.split(":::")[1].split("/")[0] for a in OBJECT_ARNS})),
    st.sampled_from(ACCOUNTS),
)
