"""How CloudTrail writes a call's record, per protocol and per service: the one table.

The hook sees a botocore call; CloudTrail's records do not follow botocore's model.
Where they differ (the event source, legacy and versioned event names, which calls
are data events or read-only, how members are spelled, which members are never
logged, dates, ``resources``, ``apiVersion``), the rule is written here, as data,
with the page of AWS's documentation (or the records AWS wrote) it comes from. The
producer applies these tables when it builds a record; the router and ``recorder
route`` classify with the same tables (:mod:`recorder.events.classify`), so both sides
of the wire agree on one rule.

Rules are keyed by what they are about: names a record carries (``eventSource``,
``eventName``) for what a consumer of records can ask; botocore's service name for
what only a producer knows (which operation a client called). Pure data, loaded at
import, nothing mutated.

Sources are cited by page; ``Records:`` names the records AWS wrote that show a rule
where the prose does not state it (the guides' example log entries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

# -- sources ---------------------------------------------------------------------------
GUIDE = "AWS CloudTrail User Guide (shared/seed/cloudtrail-user-guide.txt)"
DATA_EVENTS_PAGE = (
    "CloudTrail User Guide, Logging data events "
    "(docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html)"
)
SES_PAGE = (
    "Amazon SES Developer Guide, Logging Amazon SES API calls with AWS CloudTrail "
    "(docs.aws.amazon.com/ses/latest/dg/logging-using-cloudtrail.html)"
)
ECR_PAGE = (
    "Amazon ECR User Guide, Logging Amazon ECR actions with AWS CloudTrail "
    "(docs.aws.amazon.com/AmazonECR/latest/userguide/logging-using-cloudtrail.html)"
)
SAGEMAKER_PAGE = (
    "Amazon SageMaker Developer Guide, Log Amazon SageMaker API Calls with AWS CloudTrail "
    "(docs.aws.amazon.com/sagemaker/latest/dg/logging-using-cloudtrail.html)"
)
FEATURE_STORE_PAGE = (
    "Amazon SageMaker Developer Guide, Logging Feature Store API calls using AWS CloudTrail "
    "(docs.aws.amazon.com/sagemaker/latest/dg/feature-store-logging-using-cloudtrail.html)"
)
S3_EVENTS_PAGE = (
    "Amazon S3 User Guide, Amazon S3 CloudTrail events "
    "(docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html)"
)
S3_ENTRIES_PAGE = (
    "Amazon S3 User Guide, CloudTrail log file entries for Amazon S3 "
    "(docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html)"
)
LAMBDA_PAGE = (
    "AWS Lambda Developer Guide, Logging AWS Lambda API calls using AWS CloudTrail "
    "(docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html)"
)
DYNAMODB_PAGE = (
    "Amazon DynamoDB Developer Guide, Logging DynamoDB operations by using AWS CloudTrail "
    "(docs.aws.amazon.com/amazondynamodb/latest/developerguide/logging-using-cloudtrail.html)"
)
DYNAMODB_ENTRIES_PAGE = (
    "Amazon DynamoDB Developer Guide, Understanding DynamoDB log file entries "
    "(docs.aws.amazon.com/amazondynamodb/latest/developerguide/understanding-ddb-log-entries.html)"
)
EBS_PAGE = (
    "Amazon EC2 User Guide, Log API calls for EBS direct APIs with AWS CloudTrail "
    "(docs.aws.amazon.com/ebs/latest/userguide/logging-ebs-apis-using-cloudtrail.html)"
)
EC2_PAGE = (
    "Amazon EC2 User Guide, Log Amazon EC2 API calls using AWS CloudTrail "
    "(docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitor-with-cloudtrail.html); "
    "CloudTrail User Guide, CloudTrail log file examples (cloudtrail-log-file-examples.html)"
)
IAM_STS_PAGE = (
    "IAM User Guide, Logging IAM and AWS STS API calls with AWS CloudTrail "
    "(docs.aws.amazon.com/IAM/latest/UserGuide/cloudtrail-integration.html)"
)
KMS_PAGE = (
    "AWS KMS Developer Guide, Logging AWS KMS API calls with AWS CloudTrail "
    "(docs.aws.amazon.com/kms/latest/developerguide/logging-using-cloudtrail.html) and its "
    "per-operation examples (ct-encrypt, ct-generatedatakeypair, ct-createalias, ...)"
)
MQ_PAGE = (
    "Amazon MQ Developer Guide, Logging Amazon MQ API calls using AWS CloudTrail "
    "(docs.aws.amazon.com/amazon-mq/latest/developer-guide/security-logging-monitoring-cloudtrail.html)"
)
SSO_PAGE = (
    "IAM Identity Center User Guide, Understanding IAM Identity Center log file entries "
    "(docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sso-entries.html)"
)
ACM_PAGE = (
    "AWS Certificate Manager User Guide, Supported CloudTrail actions "
    "(docs.aws.amazon.com/acm/latest/userguide/cloudtrail.html); AWS Private CA User Guide, "
    "Logging AWS Private CA API calls (docs.aws.amazon.com/privateca/latest/userguide/CT-*.html)"
)


@dataclass(frozen=True, slots=True)
class Rule(Generic[T]):
    """One convention and where it comes from."""

    value: T
    source: str


# -- eventSource -----------------------------------------------------------------------
#: The event source is ``<signing name>.amazonaws.com``: the name the service signs
#: requests with, not the endpoint prefix botocore sends them to (SES ``email`` ->
#: ``ses``, ECR ``api.ecr`` -> ``ecr``, SageMaker ``api.sagemaker`` and its Feature
#: Store runtime -> ``sagemaker``, DynamoDB Streams ``streams.dynamodb`` -> ``dynamodb``).
SIGNING_NAME = Rule(
    "signing name",
    f"{SES_PAGE}; {ECR_PAGE}; {SAGEMAKER_PAGE}; {FEATURE_STORE_PAGE}; {DYNAMODB_ENTRIES_PAGE}",
)
#: Services whose event source is neither, by botocore service name.
EVENT_SOURCES: Mapping[str, Rule[str]] = {
    "mq": Rule("amazonmq.amazonaws.com", MQ_PAGE),
    "sso-oidc": Rule("sso.amazonaws.com", SSO_PAGE),
}

# -- eventName ---------------------------------------------------------------------------
#: Operations CloudTrail names otherwise, by botocore service name then operation.
EVENT_NAMES: Mapping[str, Rule[Mapping[str, str]]] = {
    "s3": Rule(
        {
            # "In some cases, the CloudTrail event name differs from the API action name.
            # For example, PutBucketLifecycleConfiguration is PutBucketLifecycle."
            "PutBucketLifecycleConfiguration": "PutBucketLifecycle",
            "GetBucketLifecycleConfiguration": "GetBucketLifecycle",
            "PutBucketNotificationConfiguration": "PutBucketNotification",
            "GetBucketNotificationConfiguration": "GetBucketNotification",
            "ListObjectsV2": "ListObjects",
            "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
            "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
            "DeletePublicAccessBlock": "DeleteBucketPublicAccessBlock",
        },
        S3_EVENTS_PAGE,
    ),
    "s3control": Rule(
        {
            # "The CloudTrail event names differ from the API action name. For example,
            # DeletePublicAccessBlock is DeleteAccountPublicAccessBlock."
            "PutPublicAccessBlock": "PutAccountPublicAccessBlock",
            "GetPublicAccessBlock": "GetAccountPublicAccessBlock",
            "DeletePublicAccessBlock": "DeleteAccountPublicAccessBlock",
        },
        S3_EVENTS_PAGE,
    ),
    "lambda": Rule(
        # "the eventName might include date and version information ... The following
        # list specifies when the event name differs from the API action name."
        {
            "AddPermission": "AddPermission20150331v2",
            "CreateAlias": "CreateAlias20150331",
            "CreateEventSourceMapping": "CreateEventSourceMapping20150331",
            "CreateFunction": "CreateFunction20150331",
            "DeleteAlias": "DeleteAlias20150331",
            "DeleteEventSourceMapping": "DeleteEventSourceMapping20150331",
            "DeleteFunction": "DeleteFunction20150331",
            "DeleteFunctionConcurrency": "DeleteFunctionConcurrency20171031",
            "GetAlias": "GetAlias20150331",
            # "For example the, GetFunction action appears as GetFunction20150331v2"; the
            # other reads as records of real accounts name them (detection rules' data)
            "GetFunction": "GetFunction20150331v2",
            "GetFunctionConfiguration": "GetFunctionConfiguration20150331v2",
            "GetPolicy": "GetPolicy20150331v2",
            "ListFunctions": "ListFunctions20150331",
            "ListVersionsByFunction": "ListVersionsByFunction20150331",
            "ListAliases": "ListAliases20150331",
            "ListEventSourceMappings": "ListEventSourceMappings20150331",
            "ListTags": "ListTags20170331",
            "PublishLayerVersion": "PublishLayerVersion20181031",
            "PublishVersion": "PublishVersion20150331",
            "PutFunctionConcurrency": "PutFunctionConcurrency20171031",
            "RemovePermission": "RemovePermission20150331v2",
            "TagResource": "TagResource20170331v2",
            "UntagResource": "UntagResource20170331v2",
            "UpdateAlias": "UpdateAlias20150331",
            "UpdateEventSourceMapping": "UpdateEventSourceMapping20150331",
            "UpdateFunctionCode": "UpdateFunctionCode20150331v2",
            "UpdateFunctionConfiguration": "UpdateFunctionConfiguration20150331v2",
        },
        LAMBDA_PAGE,
    ),
}

# -- management or data ------------------------------------------------------------------
S3_SOURCE = "s3.amazonaws.com"
LAMBDA_SOURCE = "lambda.amazonaws.com"
DYNAMODB_SOURCE = "dynamodb.amazonaws.com"

S3_OBJECT_OPERATIONS: frozenset[str] = frozenset(
    {
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "DeleteObject",
        "DeleteObjectTagging",
        "DeleteObjects",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "HeadObject",
        "ListParts",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectRetention",
        "PutObjectTagging",
        "RestoreObject",
        "SelectObjectContent",
        "UploadPart",
        "UploadPartCopy",
    }
)
LAMBDA_DATA_OPERATIONS: frozenset[str] = frozenset(
    {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}
)
DYNAMODB_ITEM_OPERATIONS: frozenset[str] = frozenset(
    {
        "BatchExecuteStatement",
        "BatchGetItem",
        "BatchWriteItem",
        "DeleteItem",
        "ExecuteStatement",
        "ExecuteTransaction",
        "GetItem",
        "PutItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "TransactWriteItems",
        "UpdateItem",
    }
)
DYNAMODB_STREAM_OPERATIONS: frozenset[str] = frozenset({"GetRecords", "GetShardIterator"})

#: Calls CloudTrail logs as data events (``managementEvent: false``,
#: ``eventCategory: Data``), by event source. Everything else is a management event.
DATA_EVENTS: Mapping[str, Rule[frozenset[str]]] = {
    S3_SOURCE: Rule(S3_OBJECT_OPERATIONS, f"{GUIDE} line 4738; {S3_EVENTS_PAGE}"),
    LAMBDA_SOURCE: Rule(LAMBDA_DATA_OPERATIONS, f"{GUIDE} line 4739; {LAMBDA_PAGE}"),
    DYNAMODB_SOURCE: Rule(
        DYNAMODB_ITEM_OPERATIONS | DYNAMODB_STREAM_OPERATIONS,
        f"{DYNAMODB_PAGE}; {DATA_EVENTS_PAGE}",
    ),
    "ebs.amazonaws.com": Rule(
        frozenset(
            {"GetSnapshotBlock", "ListChangedBlocks", "ListSnapshotBlocks", "PutSnapshotBlock"}
        ),
        f"{EBS_PAGE}; {DATA_EVENTS_PAGE}",
    ),
    "sagemaker.amazonaws.com": Rule(
        frozenset({"PutRecord", "GetRecord", "DeleteRecord", "BatchGetRecord"}),
        f"{FEATURE_STORE_PAGE}; {DATA_EVENTS_PAGE}",
    ),
    "s3-outposts.amazonaws.com": Rule(
        S3_OBJECT_OPERATIONS, f"{S3_ENTRIES_PAGE} (S3 on Outposts); {DATA_EVENTS_PAGE}"
    ),
    "cloudtrail-data.amazonaws.com": Rule(frozenset({"PutAuditEvents"}), DATA_EVENTS_PAGE),
}

#: The ``resources.type`` a data event of each source names (what an advanced event
#: selector's ``resources.type`` matches).
DATA_RESOURCE_TYPES: Mapping[str, Rule[str]] = {
    S3_SOURCE: Rule("AWS::S3::Object", DATA_EVENTS_PAGE),
    LAMBDA_SOURCE: Rule("AWS::Lambda::Function", DATA_EVENTS_PAGE),
    DYNAMODB_SOURCE: Rule("AWS::DynamoDB::Table", DATA_EVENTS_PAGE),
    "ebs.amazonaws.com": Rule("AWS::EC2::Snapshot", DATA_EVENTS_PAGE),
    "sagemaker.amazonaws.com": Rule("AWS::SageMaker::FeatureGroup", DATA_EVENTS_PAGE),
    "s3-outposts.amazonaws.com": Rule("AWS::S3Outposts::Object", DATA_EVENTS_PAGE),
    "cloudtrail-data.amazonaws.com": Rule("AWS::CloudTrail::Channel", DATA_EVENTS_PAGE),
}

# -- readOnly ------------------------------------------------------------------------------
#: Read-only events "read your resources but don't make changes" (guide line 4620):
#: calls whose name says they only read.
READ_PREFIXES = Rule(
    (
        "Get",
        "List",
        "Describe",
        "Head",
        "Lookup",
        "Search",
        "Select",
        "Scan",
        "Query",
        "BatchGet",
        "Check",
        "Validate",
        "Test",
        "Verify",
        "Estimate",
        "Preview",
        "Simulate",
        "View",
    ),
    f"{GUIDE} line 4620",
)
#: Calls whose name does not say that they only read, but which CloudTrail marks
#: ``readOnly: true``, by event source: exact names, and name prefixes.
READ_ONLY: Mapping[str, Rule[frozenset[str]]] = {
    "kms.amazonaws.com": Rule(
        frozenset(
            {
                "Decrypt",
                "DeriveSharedSecret",
                "Encrypt",
                "GenerateDataKey",
                "GenerateDataKeyPair",
                "GenerateDataKeyPairWithoutPlaintext",
                "GenerateDataKeyWithoutPlaintext",
                "GenerateMac",
                "GenerateRandom",
                "ReEncrypt",
                "Sign",
            }
        ),
        f"{KMS_PAGE}. Records: ct-decrypt, ct-encrypt, ct-generatedatakeypair, ct-generatemac",
    ),
    "sts.amazonaws.com": Rule(
        frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot"}),
        IAM_STS_PAGE,
    ),
    "bedrock.amazonaws.com": Rule(
        frozenset({"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"}),
        "Amazon Bedrock User Guide, Monitor Amazon Bedrock API calls using CloudTrail "
        "(logging-using-cloudtrail.html): InvokeModel, a read-only management event",
    ),
}
READ_ONLY_PREFIXES: Mapping[str, Rule[tuple[str, ...]]] = {
    "comprehend.amazonaws.com": Rule(
        ("Detect", "BatchDetect", "Classify", "ContainsPiiEntities"),
        "Amazon Comprehend Developer Guide, Logging Amazon Comprehend API calls "
        "(logging-using-cloudtrail.html). Records: ClassifyDocument readOnly true",
    ),
    "rekognition.amazonaws.com": Rule(
        ("Detect", "Compare", "Recognize"),
        "Amazon Rekognition Developer Guide, Logging Amazon Rekognition API calls "
        "(logging-using-cloudtrail.html). Records: DetectLabels readOnly true",
    ),
    "rds.amazonaws.com": Rule(
        ("Download",),
        "Amazon RDS: DownloadDBLogFilePortion reads a log file (records of real accounts in "
        "detection rules' test data: readOnly true)",
    ),
    "textract.amazonaws.com": Rule(
        ("Analyze", "Detect"),
        "Amazon Textract Developer Guide, Logging Amazon Textract API calls "
        "(logging-using-cloudtrail.html)",
    ),
}

#: Read-only calls whose response CloudTrail still writes (the guide's rule, line 11542,
#: is that a call that changes nothing has no responseElements).
READ_RESPONSES: Mapping[str, Rule[frozenset[str]]] = {
    "sts.amazonaws.com": Rule(
        frozenset(
            {
                "AssumeRole",
                "AssumeRoleWithSAML",
                "AssumeRoleWithWebIdentity",
                "AssumeRoot",
                "GetFederationToken",
                "GetSessionToken",
            }
        ),
        f"{IAM_STS_PAGE}: the issued credentials' accessKeyId, sessionToken and expiration",
    ),
    "acm.amazonaws.com": Rule(frozenset({"GetCertificate"}), ACM_PAGE),
    "acm-pca.amazonaws.com": Rule(frozenset({"ListTags"}), ACM_PAGE),
    "transcribe.amazonaws.com": Rule(
        frozenset({"GetTranscriptionJob"}),
        "Amazon Transcribe Developer Guide, Monitoring Amazon Transcribe with AWS CloudTrail "
        "(monitoring-transcribe-cloud-trail.html)",
    ),
}

# -- members never logged ---------------------------------------------------------------
#: Members CloudTrail leaves out of the elements, by event source then event name
#: (``*``: every call). Botocore member names, at any depth. Binary members (blobs:
#: object bodies, ciphertext, plaintext) are never logged whatever the service
#: (``BLOB_FORMS`` names the exceptions); these are the rest.
NEVER_LOGGED: Mapping[str, Rule[Mapping[str, frozenset[str]]]] = {
    "sqs.amazonaws.com": Rule(
        {"*": frozenset({"MessageBody", "Body"})},
        "Amazon SQS Developer Guide, Logging Amazon SQS API calls using AWS CloudTrail: "
        "the queue and the message attributes, not the body",
    ),
    "sns.amazonaws.com": Rule(
        {"*": frozenset({"Message"})},
        "Amazon SNS Developer Guide, Logging Amazon SNS API calls using AWS CloudTrail",
    ),
    "logs.amazonaws.com": Rule(
        {"*": frozenset({"message"})},
        "Amazon CloudWatch Logs User Guide, Logging Amazon CloudWatch Logs API calls",
    ),
    LAMBDA_SOURCE: Rule(
        {
            # "The Environment and ZipFile parameters are omitted from the CloudTrail
            # logs for CreateFunction" (and UpdateFunctionConfiguration, UpdateFunctionCode,
            # PublishLayerVersion)
            "CreateFunction20150331": frozenset({"Environment", "ZipFile"}),
            "UpdateFunctionConfiguration20150331v2": frozenset({"Environment"}),
            "UpdateFunctionCode20150331v2": frozenset({"ZipFile"}),
            "PublishLayerVersion20181031": frozenset({"ZipFile"}),
        },
        LAMBDA_PAGE,
    ),
    "sts.amazonaws.com": Rule(
        {"*": frozenset({"SecretAccessKey", "SAMLAssertion", "WebIdentityToken"})},
        f"{IAM_STS_PAGE}: credentials with accessKeyId, sessionToken and expiration only; "
        "AssumeRoleWithSAML and AssumeRoleWithWebIdentity without the assertion or token",
    ),
    DYNAMODB_SOURCE: Rule(
        {"*": frozenset({"ExpressionAttributeValues"})},
        f"{DYNAMODB_ENTRIES_PAGE}: UpdateItem and TransactWriteItems examples name the "
        "expression attributes, never their values",
    ),
    "iam.amazonaws.com": Rule(
        {"*": frozenset({"AuthenticationCode1", "AuthenticationCode2", "SecretAccessKey"})},
        "CloudTrail User Guide, AWS console sign-in events (EnableMFADevice example): the "
        "serial number and user, never the one-time codes; CreateAccessKey's answer without "
        "its secret key (records of real accounts: detection rules' test data)",
    ),
    "glue.amazonaws.com": Rule(
        {"*": frozenset({"ConnectionProperties"})},
        "AWS Glue Developer Guide, Logging AWS Glue API calls with AWS CloudTrail "
        "(monitor-cloudtrail.html): CreateConnection without its connection properties",
    ),
    "sagemaker.amazonaws.com": Rule(
        {"PutRecord": frozenset({"Record"})},
        f"{FEATURE_STORE_PAGE}: PutRecord names the feature group, not the record",
    ),
    "route53domains.amazonaws.com": Rule(
        {"*": frozenset({"AdminContact", "RegistrantContact", "TechContact", "BillingContact"})},
        "Amazon Route 53 Developer Guide, Logging Route 53 API calls: "
        "'Personally-identifying contact information is not logged in the request'",
    ),
}

#: Services whose response is the one structure its result holds, written without
#: the wrapper (``CreateCacheCluster`` writes the cache cluster's members).
UNWRAPPED_RESPONSES: Mapping[str, Rule[bool]] = {
    "elasticache.amazonaws.com": Rule(
        True, "Amazon ElastiCache User Guide, logging-using-cloudtrail: CreateCacheCluster"
    ),
    "rds.amazonaws.com": Rule(
        True, "Amazon RDS User Guide, logging-using-cloudtrail: CreateDBInstance"
    ),
}

#: Members CloudTrail writes under another name, by event source, event name, member.
MEMBER_NAMES: Mapping[str, Rule[Mapping[str, Mapping[str, str]]]] = {
    DYNAMODB_SOURCE: Rule(
        {
            "BatchExecuteStatement": {"Statements": "requestItems"},
            "TransactWriteItems": {"TransactItems": "requestItems"},
        },
        f"{DYNAMODB_ENTRIES_PAGE}: BatchExecuteStatement and TransactWriteItems examples",
    ),
}
#: DynamoDB writes each action of a transaction flat, its kind as ``operation``
#: (``{"Put": {...}}`` -> ``{"operation": "Put", ...}``) and a put's item as ``items``.
DYNAMODB_TRANSACTIONS = Rule(
    frozenset({"TransactWriteItem", "TransactGetItem"}),
    f"{DYNAMODB_ENTRIES_PAGE}: TransactWriteItems example",
)

#: Calls refused for want of permission that CloudTrail logs without their request
#: (``requestParameters: null``) and under the action's own name (Lambda's refused
#: GetFunction, not GetFunction20150331v2), by event source: the refused error codes.
DENIED_WITHOUT_REQUEST: Mapping[str, Rule[frozenset[str]]] = {
    LAMBDA_SOURCE: Rule(
        frozenset({"AccessDenied", "AccessDeniedException"}),
        f"{LAMBDA_PAGE}: the GetFunction example refused with AccessDenied",
    ),
    "states.amazonaws.com": Rule(
        frozenset({"AccessDenied", "AccessDeniedException"}),
        "AWS Step Functions Developer Guide, Logging Step Functions using AWS CloudTrail "
        "(procedure-cloud-trail.html): the DeleteStateMachine example refused with AccessDenied",
    ),
}

#: EC2's request lists of IDs: the set element and the item element CloudTrail writes,
#: by the query name botocore gives the list. Other lists of values are written as
#: ``<queryName>Set`` with items ``{<queryName>: value}``.
EC2_ID_LISTS = Rule(
    {
        "InstanceId": ("instancesSet", "instanceId"),
        "SecurityGroupId": ("groupSet", "groupId"),
        "SecurityGroup": ("groupSet", "groupName"),
    },
    f"{EC2_PAGE}. Records: TerminateInstances, StartInstances, StopInstances instancesSet; "
    "RunInstances groupSet (KMS Developer Guide, ct-ec2two)",
)

#: EC2's request lists of structures written under a set name, by the query name
#: botocore gives the list; a request's tag list is a plain list of {key, value}.
EC2_STRUCTURE_SETS = Rule(
    {
        "TagSpecification": "tagSpecificationSet",
        "NetworkInterface": "networkInterfaceSet",
        "Tag": "tags",
    },
    "Records of RunInstances from the EC2 console in detection rules' test data "
    "(panther-analysis, aws_ec2_*): tagSpecificationSet.items[].tags[], networkInterfaceSet",
)

#: EC2 requests whose members CloudTrail writes inside one item of a set, by event
#: name: (set name, the members it holds).
EC2_ITEM_SETS = Rule(
    {"RunInstances": ("instancesSet", ("ImageId", "MinCount", "MaxCount", "KeyName"))},
    "AWS KMS Developer Guide, How Amazon EBS uses AWS KMS (ct-ec2two): RunInstances "
    "instancesSet.items[{imageId, minCount, maxCount}]",
)
#: Request structures whose every list member EC2 writes, given or not, the empty ones
#: as ``{}`` (an ``ipPermissions`` item always has ``groups``, ``ipRanges``,
#: ``ipv6Ranges`` and ``prefixListIds``; a network interface's item does not).
EC2_EMPTY_LISTS = Rule(
    frozenset({"IpPermission"}),
    "AWS Knowledge Center, How do I use CloudTrail to see if a security group or resource "
    "was changed in my AWS account? (repost.aws/knowledge-center/cloudtrail-event-history-"
    "changed): AuthorizeSecurityGroupIngress example",
)

#: additionalEventData a service writes for every call of an event name.
ADDITIONAL_EVENT_DATA: Mapping[str, Rule[Mapping[str, object]]] = {
    "route53.amazonaws.com": Rule(
        {"ChangeResourceRecordSets": {"Note": "Do not use to reconstruct hosted zone"}},
        "Amazon Route 53 Developer Guide, Logging Route 53 API calls with AWS CloudTrail "
        "(logging-using-cloudtrail.html): ChangeResourceRecordSets",
    ),
    "route53domains.amazonaws.com": Rule(
        {
            "UpdateDomainContact": (
                "Personally-identifying contact information is not logged in the request"
            ),
        },
        "Amazon Route 53 Developer Guide, Logging Route 53 API calls with AWS CloudTrail: "
        "UpdateDomainContact",
    ),
}

#: What a service writes for a sensitive member, where it is not CloudTrail's
#: ``HIDDEN_DUE_TO_SECURITY_REASONS``.
SENSITIVE_MASKS: Mapping[str, Rule[str]] = {
    "rds.amazonaws.com": Rule(
        "****",
        "Amazon RDS User Guide, logging-using-cloudtrail: CreateDBInstance masterUserPassword",
    ),
    "amazonmq.amazonaws.com": Rule("***", f"{MQ_PAGE}: CreateBroker users[].password"),
}

#: Services that write a binary member as the Java ``ByteBuffer`` their service
#: received (``hb``, ``offset``, ``limit``, ...) instead of leaving it out.
BLOB_FORMS: Mapping[str, Rule[str]] = {
    "acm.amazonaws.com": Rule("bytebuffer", f"{ACM_PAGE}. Records: ImportCertificate"),
    "acm-pca.amazonaws.com": Rule(
        "bytebuffer",
        f"{ACM_PAGE}. Records: IssueCertificate, ImportCertificateAuthorityCertificate",
    ),
}

# -- member names ------------------------------------------------------------------------
#: How member names are spelled. ``first-lower``: the model's name with its first letter
#: lowered and nothing else (``AZMode`` -> ``aZMode``, ``DNSName`` -> ``dNSName``,
#: ``SAMLAssertionID`` -> ``sAMLAssertionID``); ``bean``: Java bean names, which keep a
#: name whose first two letters are capitals (``AWSAccountId``); ``wire``: the name the
#: request or response carries on the wire, unchanged (``MonitorName``).
#: Map keys are the caller's data (tags, encryption context, attributes) and are never
#: respelled, whatever the style.
FIRST_LOWER = "first-lower"
BEAN = "bean"
WIRE = "wire"
NAME_STYLE = Rule(
    FIRST_LOWER,
    "Records: ElastiCache aZMode, ELB sSLCertificateId/dNSName, RDS dBInstanceIdentifier, "
    "IAM aWSServiceName, Route 53 tTL/iPAddress, STS sAMLAssertionID, Firehose "
    "kMSEncryptionConfig, OpenSearch eBSOptions, DAX sSESpecification",
)
NAME_STYLES: Mapping[str, Rule[str]] = {
    "kms.amazonaws.com": Rule(BEAN, f"{KMS_PAGE}. Records: ct-createkey keyMetadata.AWSAccountId"),
    "sqs.amazonaws.com": Rule(
        BEAN,
        "Amazon SQS Developer Guide, sqs-logging-using-cloudtrail: AddPermission AWSAccountIds",
    ),
    "securityhub.amazonaws.com": Rule(
        WIRE, "AWS Security Hub User Guide, securityhub-ct: CreateInsight Filters/Name"
    ),
    "internetmonitor.amazonaws.com": Rule(
        WIRE, "Amazon CloudWatch User Guide, logging_cw_api_calls: CreateMonitor MonitorName"
    ),
    "synthetics.amazonaws.com": Rule(
        WIRE, "Amazon CloudWatch User Guide, logging_cw_api_calls: UpdateCanary Code/Schedule"
    ),
}

# -- element dates -----------------------------------------------------------------------
#: How a timestamp inside requestParameters/responseElements is written. ``java``:
#: ``Oct 2, 2019 11:12:29 PM`` (no leading zero, no comma after the year); ``java-comma``:
#: the same with a comma after the year (``Mar 23, 2016, 2:39:51 AM``); ``epoch-millis``:
#: milliseconds since the epoch; ``iso``: ISO 8601 with the offset.
JAVA_DATE = "java"
JAVA_COMMA_DATE = "java-comma"
EPOCH_MILLIS = "epoch-millis"
ISO_DATE = "iso"
DATE_FORM = Rule(
    JAVA_DATE,
    "Records: DynamoDB UpdateTable, CodeBuild CreateProject, Step Functions, CodeCommit, "
    "Organizations, Route 53, ECR, IAM, EBS StartSnapshot, Redshift",
)
DATE_FORMS: Mapping[str, Rule[str]] = {
    "sts.amazonaws.com": Rule(JAVA_COMMA_DATE, f"{IAM_STS_PAGE}. Records: AssumeRole expiration"),
    "kms.amazonaws.com": Rule(JAVA_COMMA_DATE, f"{KMS_PAGE}. Records: ct-createkey creationDate"),
    "rbin.amazonaws.com": Rule(
        JAVA_COMMA_DATE, "Recycle Bin User Guide, recycle-bin-ct: UnlockRule lockEndTime"
    ),
    "ec2.amazonaws.com": Rule(
        EPOCH_MILLIS, f"{EC2_PAGE}. Records: CreateVolume createTime, RunInstances launchTime"
    ),
    "transcribe.amazonaws.com": Rule(
        ISO_DATE, "Amazon Transcribe Developer Guide, monitoring-transcribe-cloud-trail"
    ),
}

# -- apiVersion --------------------------------------------------------------------------
#: Services whose records carry ``apiVersion``, and its form: ``model`` the API version
#: as the service model spells it (``2012-08-10``), ``compact`` without its dashes
#: (``20140328``), ``target`` the JSON protocol's target prefix (``AWSShield_20160616``);
#: any other value is the version itself.
#: S3 writes it for its object calls (guide line 4830's example, ``2006-03-01``).
API_VERSIONS: Mapping[str, Rule[str]] = {
    DYNAMODB_SOURCE: Rule("model", DYNAMODB_ENTRIES_PAGE),
    "route53.amazonaws.com": Rule(
        "model", "Amazon Route 53 Developer Guide, logging-using-cloudtrail"
    ),
    "waf.amazonaws.com": Rule(
        "model", "AWS WAF Developer Guide, logging-using-cloudtrail (WAF Classic)"
    ),
    "waf-regional.amazonaws.com": Rule(
        "model", "AWS WAF Developer Guide, logging-using-cloudtrail"
    ),
    # WAFV2 writes the version its service was launched with, not the model's later one
    "wafv2.amazonaws.com": Rule("2019-04-23", "AWS WAF Developer Guide, logging-using-cloudtrail"),
    "codecommit.amazonaws.com": Rule("model", "AWS CodeCommit User Guide, integ-cloudtrail"),
    "elasticfilesystem.amazonaws.com": Rule(
        "model", "Amazon EFS User Guide, logging-using-cloudtrail"
    ),
    "kinesisanalytics.amazonaws.com": Rule(
        "model", "Amazon Kinesis Data Analytics Developer Guide, logging-using-cloudtrail"
    ),
    "events.amazonaws.com": Rule("model", "Amazon EventBridge User Guide, logging_cw_api_calls"),
    "fms.amazonaws.com": Rule(
        "model", "AWS Firewall Manager Developer Guide, logging-using-cloudtrail"
    ),
    "logs.amazonaws.com": Rule(
        "compact", "Amazon CloudWatch Logs User Guide, logging_cw_api_calls_cwl"
    ),
    "storagegateway.amazonaws.com": Rule(
        "compact", "AWS Storage Gateway User Guide, logging-using-cloudtrail"
    ),
    "shield.amazonaws.com": Rule("target", "AWS Shield Developer Guide, logging-using-cloudtrail"),
}
S3_API_VERSION = Rule(frozenset(S3_OBJECT_OPERATIONS), f"{GUIDE} line 4830")
#: S3 calls on an Outposts bucket or access point (an ``s3-outposts`` ARN as the
#: bucket) are recorded under their own event source.
S3_OUTPOSTS = Rule("s3-outposts.amazonaws.com", S3_ENTRIES_PAGE)


# -- resources -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResourceRule:
    """A resource CloudTrail names: from every member called ``member`` (at any depth of
    the request, then of the response), an ARN built from ``arn`` (``{region}``,
    ``{account}``, ``{value}``; a value that is already an ARN is taken as it is)."""

    member: str
    type: str | None
    arn: str
    operations: frozenset[str] | None = None  # eventNames it applies to; None: all
    response: bool = False  # also read the member from the response
    keys: bool = False  # the member is a map whose keys are the values (BatchWriteItem)
    account_member: str | None = None  # a sibling member naming the owner (ECR registryId)
    #: Values with one of these prefixes use another ARN form (a KMS alias name).
    prefixed: tuple[tuple[str, str], ...] = ()
    #: A value the response also names replaces the request's (a KMS alias resolved to
    #: its key).
    response_wins: bool = False
    #: A regular expression whose first group is the part of the value that names the
    #: resource; a value it does not match names none.
    extract: str | None = None


@dataclass(frozen=True, slots=True)
class Resources:
    rules: tuple[ResourceRule, ...]
    source: str
    #: Other ARN-valued request members named ``*Arn``/``*ARN`` become resources typed
    #: from the ARN (``AWS::<Service>::<ResourceType>``).
    arn_members: bool = False
    #: Table names in PartiQL statements (DynamoDB ``ExecuteStatement``).
    partiql: bool = False
    notes: tuple[str, ...] = field(default=())


_KMS_KEY = "arn:{partition}:kms:{region}:{account}:key/{value}"
_KMS_ALIAS = "arn:{partition}:kms:{region}:{account}:{value}"
RESOURCES: Mapping[str, Resources] = {
    "kms.amazonaws.com": Resources(
        (
            ResourceRule(
                "KeyId",
                "AWS::KMS::Key",
                _KMS_KEY,
                response=True,
                prefixed=(("alias/", _KMS_ALIAS),),
                response_wins=True,
            ),
            ResourceRule("TargetKeyId", "AWS::KMS::Key", _KMS_KEY),
            ResourceRule("DestinationKeyId", "AWS::KMS::Key", _KMS_KEY),
            ResourceRule("AliasName", "AWS::KMS::Key", _KMS_ALIAS),
        ),
        f"{KMS_PAGE}. Records: every ct-*.md example names the key (an alias's too)",
    ),
    DYNAMODB_SOURCE: Resources(
        (
            ResourceRule(
                "TableName",
                "AWS::DynamoDB::Table",
                "arn:{partition}:dynamodb:{region}:{account}:table/{value}",
            ),
            ResourceRule(
                "RequestItems",
                "AWS::DynamoDB::Table",
                "arn:{partition}:dynamodb:{region}:{account}:table/{value}",
                keys=True,
            ),
            # a stream's calls name its table: the ARN before "/stream/"
            ResourceRule(
                "StreamArn",
                "AWS::DynamoDB::Table",
                "{value}",
                extract=r"^(arn:[^|]*?:table/[^/|]+)",
            ),
            ResourceRule(
                "ShardIterator",
                "AWS::DynamoDB::Table",
                "{value}",
                extract=r"^(arn:[^|]*?:table/[^/|]+)",
            ),
        ),
        f"{DYNAMODB_ENTRIES_PAGE}; {DATA_EVENTS_PAGE}",
        partiql=True,
    ),
    "ecr.amazonaws.com": Resources(
        (
            ResourceRule(
                "repositoryName",
                "AWS::ECR::Repository",
                "arn:{partition}:ecr:{region}:{account}:repository/{value}",
                account_member="registryId",
            ),
        ),
        f"{ECR_PAGE}. Records: CreateRepository, PutImage, BatchGetImage",
    ),
    "sts.amazonaws.com": Resources(
        (
            ResourceRule("RoleArn", "AWS::IAM::Role", "{value}"),
            ResourceRule("PrincipalArn", "AWS::IAM::SAMLProvider", "{value}"),
        ),
        f"{IAM_STS_PAGE}. Records: AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity",
    ),
    "ssm.amazonaws.com": Resources(
        (
            ResourceRule(
                "Name",
                "AWS::SSM::Document",
                "arn:{partition}:ssm:{region}:{account}:document/{value}",
                operations=frozenset(
                    {
                        "CreateDocument",
                        "DeleteDocument",
                        "DescribeDocument",
                        "GetDocument",
                        "UpdateDocument",
                        "UpdateDocumentDefaultVersion",
                    }
                ),
            ),
            ResourceRule(
                "Name",
                "AWS::SSM::Parameter",
                "arn:{partition}:ssm:{region}:{account}:parameter/{value}",
                operations=frozenset(
                    {"PutParameter", "GetParameter", "DeleteParameter", "GetParameterHistory"}
                ),
            ),
        ),
        "AWS Systems Manager User Guide, monitoring-cloudtrail-logs: DeleteDocument",
    ),
    "ebs.amazonaws.com": Resources(
        (
            ResourceRule(
                "SnapshotId",
                "AWS::EC2::Snapshot",
                "arn:{partition}:ec2:{region}::snapshot/{value}",
                response=True,
            ),
            ResourceRule(
                "FirstSnapshotId",
                "AWS::EC2::Snapshot",
                "arn:{partition}:ec2:{region}::snapshot/{value}",
            ),
            ResourceRule(
                "SecondSnapshotId",
                "AWS::EC2::Snapshot",
                "arn:{partition}:ec2:{region}::snapshot/{value}",
            ),
        ),
        EBS_PAGE,
    ),
    "sagemaker.amazonaws.com": Resources(
        (
            ResourceRule(
                "FeatureGroupName",
                "AWS::SageMaker::FeatureGroup",
                "arn:{partition}:sagemaker:{region}:{account}:feature-group/{value}",
            ),
        ),
        FEATURE_STORE_PAGE,
    ),
    "codecommit.amazonaws.com": Resources(
        (
            ResourceRule(
                "repositoryName",
                "AWS::CodeCommit::Repository",
                "arn:{partition}:codecommit:{region}:{account}:{value}",
            ),
        ),
        "AWS CodeCommit User Guide, integ-cloudtrail: CreateRepository",
    ),
    "comprehend.amazonaws.com": Resources(
        (
            ResourceRule("VolumeKmsKeyId", "AWS::KMS::Key", _KMS_KEY),
            ResourceRule("ModelKmsKeyId", "AWS::KMS::Key", _KMS_KEY),
            ResourceRule(
                "S3Uri",
                "AWS::S3::Object",
                "{value}",
                operations=frozenset({"CreateDocumentClassifier", "CreateEntityRecognizer"}),
            ),
        ),
        "Amazon Comprehend Developer Guide, logging-using-cloudtrail: the classifier, "
        "recognizer and endpoint ARNs a call names",
        arn_members=True,
    ),
    S3_SOURCE: Resources((), f"{GUIDE} line 4830 (object and bucket, the bucket owner's account)"),
    LAMBDA_SOURCE: Resources((), f"{GUIDE} line 4830 (the function)"),
}

#: How a resource type spells each service (CloudFormation's resource type names).
SERVICE_TYPE_NAMES: Mapping[str, str] = {
    "acm": "CertificateManager",
    "acm-pca": "ACMPCA",
    "apigateway": "ApiGateway",
    "cloudformation": "CloudFormation",
    "cloudtrail": "CloudTrail",
    "codecommit": "CodeCommit",
    "comprehend": "Comprehend",
    "dynamodb": "DynamoDB",
    "ec2": "EC2",
    "ecr": "ECR",
    "ecs": "ECS",
    "eks": "EKS",
    "iam": "IAM",
    "kinesis": "Kinesis",
    "kms": "KMS",
    "lambda": "Lambda",
    "logs": "Logs",
    "rds": "RDS",
    "s3": "S3",
    "sagemaker": "SageMaker",
    "secretsmanager": "SecretsManager",
    "sns": "SNS",
    "sqs": "SQS",
    "ssm": "SSM",
    "states": "StepFunctions",
}
#: Resource types whose CloudFormation spelling is not the ARN's words capitalised.
RESOURCE_TYPE_NAMES: Mapping[str, str] = {
    "saml-provider": "SAMLProvider",
    "oidc-provider": "OIDCProvider",
}


def event_source_for(service: str, signing_name: str | None, endpoint_prefix: str) -> str:
    """The ``eventSource`` of a call to botocore service ``service``."""
    rule = EVENT_SOURCES.get(service)
    if rule is not None:
        return rule.value
    return f"{(signing_name or endpoint_prefix).lower()}.amazonaws.com"


def event_name_for(service: str, operation: str) -> str:
    rule = EVENT_NAMES.get(service)
    return rule.value.get(operation, operation) if rule is not None else operation


def is_data_event(event_source: str, event_name: str) -> bool:
    rule = DATA_EVENTS.get(event_source)
    return rule is not None and event_name in rule.value


def is_read_only(event_source: str, event_name: str) -> bool:
    extra = READ_ONLY.get(event_source)
    if extra is not None and event_name in extra.value:
        return True
    prefixes = READ_ONLY_PREFIXES.get(event_source)
    if prefixes is not None and event_name.startswith(prefixes.value):
        return True
    return event_name.startswith(READ_PREFIXES.value)


def logs_read_response(event_source: str, event_name: str) -> bool:
    rule = READ_RESPONSES.get(event_source)
    return rule is not None and event_name in rule.value


def never_logged(event_source: str, event_name: str) -> frozenset[str]:
    rule = NEVER_LOGGED.get(event_source)
    if rule is None:
        return frozenset()
    return rule.value.get("*", frozenset()) | rule.value.get(event_name, frozenset())


def name_style(event_source: str) -> str:
    rule = NAME_STYLES.get(event_source)
    return rule.value if rule is not None else NAME_STYLE.value


def date_form(event_source: str) -> str:
    rule = DATE_FORMS.get(event_source)
    return rule.value if rule is not None else DATE_FORM.value


def member_names(event_source: str, event_name: str) -> Mapping[str, str]:
    rule = MEMBER_NAMES.get(event_source)
    return rule.value.get(event_name, {}) if rule is not None else {}


def logs_denied_request(event_source: str, error_code: str) -> bool:
    rule = DENIED_WITHOUT_REQUEST.get(event_source)
    return rule is None or error_code not in rule.value


def denied_event_name(event_source: str, error_code: str, operation: str, name: str) -> str:
    """The eventName of a call refused with ``error_code``: the action's own name where
    the service logs a refused call as its IAM action (``DENIED_WITHOUT_REQUEST``)."""
    return name if logs_denied_request(event_source, error_code) else operation


def additional_event_data(event_source: str, event_name: str) -> object | None:
    rule = ADDITIONAL_EVENT_DATA.get(event_source)
    return rule.value.get(event_name) if rule is not None else None


def sensitive_mask(event_source: str, default: str) -> str:
    rule = SENSITIVE_MASKS.get(event_source)
    return rule.value if rule is not None else default


def blob_form(event_source: str) -> str | None:
    rule = BLOB_FORMS.get(event_source)
    return rule.value if rule is not None else None


def api_version_for(
    event_source: str, event_name: str, api_version: str | None, target_prefix: str | None
) -> str | None:
    """``apiVersion`` as the service writes it, or None where it writes none."""
    if event_source == S3_SOURCE:
        return api_version if event_name in S3_API_VERSION.value else None
    rule = API_VERSIONS.get(event_source)
    if rule is None or not (api_version or rule.value not in ("model", "compact", "target")):
        return None
    api_version = api_version or ""
    if rule.value == "compact":
        return api_version.replace("-", "")
    if rule.value == "target":
        return target_prefix or api_version
    if rule.value == "model":
        return api_version
    return rule.value
