"""The guide's routing examples as data: trail sets and records, each record with the
deliveries the guide implies and the guide line it comes from.

Records are in the guide's log format (line 629 onwards). Where an example of the
guide is a story rather than a record, the record is the one that story describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
YOU = "111111111111"  # owner of owner-bucket (line 4838); master account (line 3689)
BOB = "222222222222"
CAROL = "333333333333"
MEMBER = "444444444444"  # member account of o-exampleorgid (line 3689)
OUTSIDER = "555555555555"
ORG = "o-exampleorgid"


_PARTITIONS = {"cn-": "aws-cn", "us-gov-": "aws-us-gov"}


def arn(account: str, name: str, region: str = "us-east-2") -> str:
    partition = next((p for prefix, p in _PARTITIONS.items() if region.startswith(prefix)), "aws")
    return f"arn:{partition}:cloudtrail:{region}:{account}:trail/{name}"


def trail(
    name: str,
    account: str = ACCOUNT,
    region: str = "us-east-2",
    *,
    multi: bool = True,
    bucket: str = "my-bucket",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "Name": name,
        "TrailARN": arn(account, name, region),
        "HomeRegion": region,
        "S3BucketName": bucket,
        "IsMultiRegionTrail": multi,
        "IncludeGlobalServiceEvents": multi,
        **extra,
    }


def record(
    source: str,
    name: str,
    event_id: str,
    *,
    account: str = ACCOUNT,
    region: str = "us-east-2",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "eventVersion": "1.05",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "EX_PRINCIPAL_ID",
            "arn": f"arn:aws:iam::{account}:user/Alice",
            "accountId": account,
            "accessKeyId": "EXAMPLE_KEY_ID",
            "userName": "Alice",
        },
        "eventTime": "2019-06-10T17:14:09Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "205.251.233.176",
        "userAgent": "aws-cli/1.16.96",
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
        **extra,
    }


def s3_object(
    name: str, event_id: str, bucket: str, key: str, owner: str, **kw: Any
) -> dict[str, Any]:
    return record(
        "s3.amazonaws.com",
        name,
        event_id,
        requestParameters={"bucketName": bucket, "key": key},
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        **kw,
    )


def invoke(event_id: str, function_arn: str, **kw: Any) -> dict[str, Any]:
    owner = function_arn.split(":")[4]
    return record(
        "lambda.amazonaws.com",
        "Invoke",
        event_id,
        resources=[{"accountId": owner, "type": "AWS::Lambda::Function", "ARN": function_arn}],
        **kw,
    )


Expected = tuple[str, str, str] | tuple[str, str, str, str]


@dataclass
class Case:
    line: int
    says: str
    record: dict[str, Any]
    deliveries: list[Expected]


@dataclass
class Scenario:
    name: str
    trails: list[dict[str, Any]]
    cases: list[Case]
    organizations: dict[str, str] = field(default_factory=dict)
    #: The operator's owners file: who owns the buckets the records touch. The owner a
    #: record names is never trusted (a tenant's producer writes it).
    bucket_owners: dict[str, str] = field(default_factory=dict)


READ_ONLY = trail(
    "read-only-trail",
    bucket="read-only-bucket",
    EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}],
)
WRITE_ONLY = trail(
    "write-only-trail",
    bucket="write-only-bucket",
    EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
)
NO_KMS = trail(
    "TrailName",
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "ExcludeManagementEventSources": ["kms.amazonaws.com"],
            "IncludeManagementEvents": True,
        }
    ],
)
DEFAULT = trail("My-Management-Events-Tail")
BUCKET_1 = trail(
    "bucket-1-trail",
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::bucket-1/"]}],
        }
    ],
)
BUCKET_3 = trail(
    "bucket-3-trail",
    EventSelectors=[
        {
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": False,
            "DataResources": [
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::bucket-3/my-images"]}
            ],
        }
    ],
)
HELLO = "arn:aws:lambda:us-west-2:999999999999:function:hello-world-python-function"
SPECIFIC = trail(
    "TrailName",
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [
                {
                    "Type": "AWS::S3::Object",
                    "Values": ["arn:aws:s3:::mybucket/prefix", "arn:aws:s3:::mybucket2/prefix2"],
                },
                {"Type": "AWS::Lambda::Function", "Values": [HELLO]},
            ],
        }
    ],
)
EVERYTHING_ONE_REGION = trail(
    "TrailName2",
    multi=False,
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::"]},
                {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
            ],
        }
    ],
)


def _owner_trail(account: str, name: str) -> dict[str, Any]:
    return trail(
        name,
        account,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::owner-bucket/"]}
                ],
            }
        ],
    )


def _all_functions(account: str) -> dict[str, Any]:
    return trail(
        "all-functions",
        account,
        EventSelectors=[
            {
                "IncludeManagementEvents": False,
                "DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}],
            }
        ],
    )


def _d(t: dict[str, Any], account: str, region: str, org: str | None = None) -> Expected:
    return (
        (t["TrailARN"], account, region) if org is None else (t["TrailARN"], account, region, org)
    )


_EC2 = "ec2.amazonaws.com"
_CONSOLE_LOGIN_1521 = {  # verbatim, guide lines 1526-1548
    "eventVersion": "1.05",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AKIAIOSFODNN7EXAMPLE",
        "arn": "arn:aws:iam::123456789012:user/Mary_Major",
        "accountId": "123456789012",
        "userName": "Mary_Major",
    },
    "eventTime": "2019-06-10T17:14:09Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.67",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:60.0) Gecko/20100101 Firefox/60.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "2681fc29-EXAMPLE",
    "eventType": "AwsConsoleSignIn",
    "recipientAccountId": "123456789012",
}

GLOBAL_ON = trail("all-regions-with-global")
GLOBAL_OFF = trail("all-regions-no-global", IncludeGlobalServiceEvents=False)
SINGLE_GLOBAL = trail(
    "first-single-region", "123456789012", "us-east-2", multi=False, IncludeGlobalServiceEvents=True
)
SINGLE_NO_GLOBAL = trail("second-single-region", "123456789012", "us-west-2", multi=False)
US_WEST_1_SINGLE = trail("us-west-1-only", region="us-west-1", multi=False)
US_WEST_1_ALL = trail("us-west-1-all", region="us-west-1")
STOPPED = trail("stopped", region="us-west-1", IsLogging=False)
OTHER_ACCOUNT = trail("other-account", "210987654321", "us-west-1")
ORG_TRAIL = trail(
    "MyOrganizationTrail", YOU, bucket="my-organization-bucket", IsOrganizationTrail=True
)
MEMBER_OWN = trail("member-own", MEMBER)
OWNER_TRAIL = _owner_trail(YOU, "your-trail")
BOB_TRAIL = _owner_trail(BOB, "bobs-trail")
CN_TRAIL = trail("china", region="cn-north-1")
GOV_DATA = trail(
    "gov-data",
    region="us-gov-west-1",
    EventSelectors=[
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [
                {"Type": "AWS::S3::Object", "Values": ["arn:aws-us-gov:s3:::gov-data/"]}
            ],
        }
    ],
)


def _partitioned_put(event_id: str, region: str, partition: str) -> dict[str, Any]:
    record_ = s3_object("PutObject", event_id, "gov-data", "k", ACCOUNT, region=region)
    for r in record_["resources"]:
        r["ARN"] = r["ARN"].replace("arn:aws:", f"arn:{partition}:")
    return record_


SCENARIOS: list[Scenario] = [
    Scenario(
        "management read-only and write-only trails",
        [READ_ONLY, WRITE_ONLY],
        [
            Case(
                4598,
                "DescribeInstances is read-only: the read-only trail logs it",
                record(_EC2, "DescribeInstances", "ev-describe"),
                [_d(READ_ONLY, ACCOUNT, "us-east-2")],
            ),
            Case(
                4599,
                "TerminateInstances is write-only: the write-only trail logs it",
                record(_EC2, "TerminateInstances", "ev-terminate"),
                [_d(WRITE_ONLY, ACCOUNT, "us-east-2")],
            ),
            Case(
                4577,
                "readOnly in the record decides: DescribeSubnets is read-only",
                record(
                    _EC2,
                    "DescribeSubnets",
                    "ev-subnets",
                    readOnly=True,
                    managementEvent=True,
                    eventCategory="Management",
                ),
                [_d(READ_ONLY, ACCOUNT, "us-east-2")],
            ),
        ],
    ),
    Scenario(
        "KMS events excluded from every trail but one",
        [NO_KMS, DEFAULT],
        [
            Case(
                3616,
                "a KMS event reaches only the trail that does not exclude KMS",
                record("kms.amazonaws.com", "Decrypt", "ev-decrypt"),
                [_d(DEFAULT, ACCOUNT, "us-east-2")],
            ),
            Case(
                4667,
                "other management events reach both trails",
                record(_EC2, "CreateSubnet", "ev-subnet"),
                sorted([_d(NO_KMS, ACCOUNT, "us-east-2"), _d(DEFAULT, ACCOUNT, "us-east-2")]),
            ),
            Case(
                4534,
                "a default trail logs no data events",
                s3_object("GetObject", "ev-get-default", "bucket-1", "a.txt", ACCOUNT),
                [],
            ),
        ],
    ),
    Scenario(
        "S3 data events for a bucket and a bucket prefix",
        [BUCKET_1, BUCKET_3],
        [
            Case(
                4790,
                "PutObject to bucket-1 (empty prefix, Read and Write) is logged",
                s3_object("PutObject", "ev-put-1", "bucket-1", "photo.jpg", ACCOUNT),
                [_d(BUCKET_1, ACCOUNT, "us-east-2")],
            ),
            Case(
                4793,
                "PutObject to bucket-2, which no trail specifies, is not",
                s3_object("PutObject", "ev-put-2", "bucket-2", "photo.jpg", ACCOUNT),
                [],
            ),
            Case(
                4799,
                "DeleteObject of bucket-3/my-images/example.jpg is a logged Write",
                s3_object(
                    "DeleteObject", "ev-del-img", "bucket-3", "my-images/example.jpg", ACCOUNT
                ),
                [_d(BUCKET_3, ACCOUNT, "us-east-2")],
            ),
            Case(
                4802,
                "DeleteObject of bucket-3/my-videos/example.avi: other prefix, not logged",
                s3_object(
                    "DeleteObject", "ev-del-vid", "bucket-3", "my-videos/example.avi", ACCOUNT
                ),
                [],
            ),
            Case(
                4804,
                "GetObject of bucket-3/my-images/example.jpg is a Read: not logged",
                s3_object("GetObject", "ev-get-img", "bucket-3", "my-images/example.jpg", ACCOUNT),
                [],
            ),
        ],
    ),
    Scenario(
        "a trail with specific event selectors",
        [SPECIFIC],
        [
            Case(
                3519,
                "an object under mybucket/prefix is logged",
                s3_object("GetObject", "ev-mybucket", "mybucket", "prefix/report.csv", ACCOUNT),
                [_d(SPECIFIC, ACCOUNT, "us-east-2")],
            ),
            Case(
                3519,
                "an object under mybucket2/prefix2 is logged",
                s3_object("PutObject", "ev-mybucket2", "mybucket2", "prefix2/a", ACCOUNT),
                [_d(SPECIFIC, ACCOUNT, "us-east-2")],
            ),
            Case(
                3519,
                "an object of mybucket outside the prefix is not",
                s3_object(
                    "GetObject", "ev-mybucket-other", "mybucket", "other/report.csv", ACCOUNT
                ),
                [],
            ),
            Case(
                3519,
                "Invoke of hello-world-python-function is logged",
                invoke("ev-hello", HELLO),
                [_d(SPECIFIC, ACCOUNT, "us-east-2")],
            ),
            Case(
                3519,
                "Invoke of another function is not",
                invoke("ev-other-fn", "arn:aws:lambda:us-west-2:999999999999:function:hello-world"),
                [],
            ),
            Case(
                3519,
                "management events are included",
                record(_EC2, "RunInstances", "ev-run"),
                [_d(SPECIFIC, ACCOUNT, "us-east-2")],
            ),
        ],
    ),
    Scenario(
        "all data events, one region",
        [EVERYTHING_ONE_REGION],
        [
            Case(
                3565,
                "any S3 object in the trail's region is logged",
                s3_object("PutObject", "ev-any-object", "any-bucket", "k", ACCOUNT),
                [_d(EVERYTHING_ONE_REGION, ACCOUNT, "us-east-2")],
            ),
            Case(
                3565,
                "any Lambda function in the trail's region is logged",
                invoke(
                    "ev-any-fn",
                    f"arn:aws:lambda:us-east-2:{ACCOUNT}:function:f",
                    region="us-east-2",
                ),
                [_d(EVERYTHING_ONE_REGION, ACCOUNT, "us-east-2")],
            ),
            Case(
                3569,
                "a single-region trail logs only its region's events",
                s3_object(
                    "PutObject", "ev-other-region", "any-bucket", "k", ACCOUNT, region="us-west-2"
                ),
                [],
            ),
        ],
    ),
    Scenario(
        "all Lambda functions, including another account's",
        [_all_functions(ACCOUNT), _all_functions(BOB)],
        [
            Case(
                4780,
                "Invoke by your account on a function of another account is logged by "
                "your all-functions trail, and not by the function owner's",
                invoke("ev-cross-fn", f"arn:aws:lambda:us-east-2:{BOB}:function:shared"),
                [_d(_all_functions(ACCOUNT), ACCOUNT, "us-east-2")],
            ),
        ],
    ),
    Scenario(
        "S3 objects in other AWS accounts",
        [OWNER_TRAIL, BOB_TRAIL],
        [
            Case(
                4826,
                "Bob uploads to owner-bucket: Bob's trail logs it, and so does yours",
                s3_object("PutObject", "ev-bob-put", "owner-bucket", "bob.txt", YOU, account=BOB),
                sorted([_d(BOB_TRAIL, BOB, "us-east-2"), _d(OWNER_TRAIL, YOU, "us-east-2")]),
            ),
            Case(
                4829,
                "You upload: your trail logs it, Bob's does not",
                s3_object("PutObject", "ev-you-put", "owner-bucket", "you.txt", YOU, account=YOU),
                [_d(OWNER_TRAIL, YOU, "us-east-2")],
            ),
            Case(
                4816,
                "a third account's call on your object is logged by you, not by Bob",
                s3_object(
                    "GetObject", "ev-carol-get", "owner-bucket", "you.txt", YOU, account=CAROL
                ),
                [_d(OWNER_TRAIL, YOU, "us-east-2")],
            ),
            Case(
                4816,
                "Bob's management events stay Bob's",
                record(_EC2, "DescribeInstances", "ev-bob-mgmt", account=BOB),
                [_d(BOB_TRAIL, BOB, "us-east-2")],
            ),
        ],
        bucket_owners={"owner-bucket": YOU},
    ),
    Scenario(
        "regional trails",
        [US_WEST_1_SINGLE, US_WEST_1_ALL, STOPPED, OTHER_ACCOUNT],
        [
            Case(
                461,
                "an event in us-west-1 reaches the single-region and the all-region trail",
                record(_EC2, "RunInstances", "ev-usw1", region="us-west-1"),
                sorted(
                    [
                        _d(US_WEST_1_SINGLE, ACCOUNT, "us-west-1"),
                        _d(US_WEST_1_ALL, ACCOUNT, "us-west-1"),
                    ]
                ),
            ),
            Case(
                475,
                "an event in ap-southeast-2 reaches only the all-region trail, in its region",
                record(_EC2, "RunInstances", "ev-syd", region="ap-southeast-2"),
                [_d(US_WEST_1_ALL, ACCOUNT, "ap-southeast-2")],
            ),
            Case(
                465,
                "a stopped trail and another account's trail receive nothing",
                record(_EC2, "RunInstances", "ev-usw1-b", region="us-west-1"),
                sorted(
                    [
                        _d(US_WEST_1_SINGLE, ACCOUNT, "us-west-1"),
                        _d(US_WEST_1_ALL, ACCOUNT, "us-west-1"),
                    ]
                ),
            ),
        ],
    ),
    Scenario(
        "AWS STS global and regional endpoints",
        [GLOBAL_ON, GLOBAL_OFF, SINGLE_NO_GLOBAL],
        [
            Case(
                505,
                "sts.us-west-2.amazonaws.com: delivered in us-west-2, by the us-west-2 trail too",
                record(
                    "sts.amazonaws.com",
                    "AssumeRole",
                    "ev-sts-regional",
                    region="us-west-2",
                    tlsDetails={"clientProvidedHostHeader": "sts.us-west-2.amazonaws.com"},
                ),
                sorted(
                    [
                        _d(GLOBAL_ON, ACCOUNT, "us-west-2"),
                        _d(GLOBAL_OFF, ACCOUNT, "us-west-2"),
                        _d(SINGLE_NO_GLOBAL, ACCOUNT, "us-west-2"),
                    ]
                ),
            ),
            Case(
                511,
                "the global endpoint: a global service event, us-east-1, trails with global events",
                record(
                    "sts.amazonaws.com",
                    "AssumeRole",
                    "ev-sts-global",
                    region="us-east-1",
                    tlsDetails={"clientProvidedHostHeader": "sts.amazonaws.com"},
                ),
                [_d(GLOBAL_ON, ACCOUNT, "us-east-1")],
            ),
            Case(
                511,
                "no host header: an STS event of us-east-1 is taken as the global endpoint",
                record(
                    "sts.amazonaws.com", "GetCallerIdentity", "ev-sts-nohost", region="us-east-1"
                ),
                [_d(GLOBAL_ON, ACCOUNT, "us-east-1")],
            ),
            Case(
                505,
                "sts.us-east-1.amazonaws.com is regional: also trails without global events",
                record(
                    "sts.amazonaws.com",
                    "AssumeRole",
                    "ev-sts-use1",
                    region="us-east-1",
                    tlsDetails={"clientProvidedHostHeader": "sts.us-east-1.amazonaws.com"},
                ),
                sorted([_d(GLOBAL_ON, ACCOUNT, "us-east-1"), _d(GLOBAL_OFF, ACCOUNT, "us-east-1")]),
            ),
        ],
    ),
    Scenario(
        "global service events",
        [GLOBAL_ON, GLOBAL_OFF, SINGLE_GLOBAL, SINGLE_NO_GLOBAL],
        [
            Case(
                1521,
                "the tutorial's ConsoleLogin is logged in us-east-1, once per trail with "
                "global events (the single-region trail that includes them too)",
                _CONSOLE_LOGIN_1521,
                sorted(
                    [_d(GLOBAL_ON, ACCOUNT, "us-east-1"), _d(SINGLE_GLOBAL, ACCOUNT, "us-east-1")]
                ),
            ),
            Case(
                797,
                "IAM CreateUser (record of line 797, region us-east-2) is logged in us-east-1",
                record("iam.amazonaws.com", "CreateUser", "ev-iam", region="us-east-2"),
                sorted(
                    [_d(GLOBAL_ON, ACCOUNT, "us-east-1"), _d(SINGLE_GLOBAL, ACCOUNT, "us-east-1")]
                ),
            ),
            Case(
                511,
                "CloudFront is a global service",
                record(
                    "cloudfront.amazonaws.com", "CreateDistribution", "ev-cf", region="us-east-1"
                ),
                sorted(
                    [_d(GLOBAL_ON, ACCOUNT, "us-east-1"), _d(SINGLE_GLOBAL, ACCOUNT, "us-east-1")]
                ),
            ),
            Case(
                525,
                "a regional event reaches single-region trails of its region only",
                record(_EC2, "RunInstances", "ev-usw2", region="us-west-2"),
                sorted(
                    [
                        _d(GLOBAL_ON, ACCOUNT, "us-west-2"),
                        _d(GLOBAL_OFF, ACCOUNT, "us-west-2"),
                        _d(SINGLE_NO_GLOBAL, ACCOUNT, "us-west-2"),
                    ]
                ),
            ),
        ],
    ),
    Scenario(
        "organization trail",
        [ORG_TRAIL, MEMBER_OWN],
        [
            Case(
                3689,
                "a member account's event is logged under AWSLogs/o-exampleorgid/444444444444/",
                record(_EC2, "RunInstances", "ev-member", account=MEMBER),
                sorted(
                    [_d(ORG_TRAIL, MEMBER, "us-east-2", ORG), _d(MEMBER_OWN, MEMBER, "us-east-2")]
                ),
            ),
            Case(
                3676,
                "the master account's events are logged too, in the organization folder",
                record(_EC2, "RunInstances", "ev-master", account=YOU),
                [_d(ORG_TRAIL, YOU, "us-east-2", ORG)],
            ),
            Case(
                3676,
                "an account outside the organization is not logged",
                record(_EC2, "RunInstances", "ev-outsider", account=OUTSIDER),
                [],
            ),
        ],
        organizations={YOU: ORG, MEMBER: ORG},
    ),
    Scenario(
        "organization trail after a member leaves",
        [ORG_TRAIL, MEMBER_OWN],
        [
            Case(
                3689,
                "a removed account's events are no longer logged by the organization trail",
                record(_EC2, "RunInstances", "ev-removed", account=MEMBER),
                [_d(MEMBER_OWN, MEMBER, "us-east-2")],
            ),
        ],
        organizations={YOU: ORG},
    ),
    Scenario(
        "partitions: a trail applies to the regions of its own partition (line 459)",
        [GLOBAL_ON, CN_TRAIL, GOV_DATA],
        [
            Case(
                459,
                "an event in a China region reaches the trail in aws-cn, not the aws one",
                record(_EC2, "RunInstances", "ev-cn", region="cn-northwest-1"),
                [_d(CN_TRAIL, ACCOUNT, "cn-northwest-1")],
            ),
            Case(
                511,
                "a global service's event in aws-cn is logged in cn-north-1, where IAM signs",
                record("iam.amazonaws.com", "CreateUser", "ev-cn-iam", region="cn-north-1"),
                [_d(CN_TRAIL, ACCOUNT, "cn-north-1")],
            ),
            Case(
                511,
                "a global service's event in aws stays in us-east-1 for the aws trail only",
                record("iam.amazonaws.com", "CreateUser", "ev-iam", region="us-east-1"),
                [_d(GLOBAL_ON, ACCOUNT, "us-east-1")],
            ),
            Case(
                3527,
                "a GovCloud object matches an arn:aws-us-gov:s3::: selector",
                _partitioned_put("ev-gov-put", "us-gov-west-1", "aws-us-gov"),
                [_d(GOV_DATA, ACCOUNT, "us-gov-west-1")],
            ),
            Case(
                3527,
                "the same bucket name's object in aws is another bucket: no GovCloud trail",
                _partitioned_put("ev-aws-put", "us-east-2", "aws"),
                [],
            ),
        ],
    ),
]
