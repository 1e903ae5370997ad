"""What CloudTrail answers: the one error type of trail configuration, and the one
table of AWS's exact error codes and messages.

The control API turns a :class:`TrailError` (and its own ``ApiError``) into a JSON 1.1
error response, so ``code`` must be the exact exception name botocore models (a real
client then raises ``client.exceptions.<code>``). Where AWS's wording is on record,
the message is AWS's, word for word, from :data:`ANSWERS`: tools and people match on
these strings (Terraform, CDK and CloudFormation surface them verbatim). Each entry
says where its wording comes from:

* ``model``: the exception's documentation in botocore's CloudTrail model;
* ``record``: a real response quoted in a public report (the issue named);
* ``moto``: moto's CloudTrail, whose messages are copied from AWS responses (its
  test-suite pins them), where no other record was found.
"""

from __future__ import annotations

from typing import NamedTuple


class TrailError(Exception):
    """An invalid trail or event selector, with the CloudTrail exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Answer(NamedTuple):
    code: str
    message: str  # str.format template over the case's fields


ANSWERS: dict[str, Answer] = {
    # -- trail names (guide line 4382); the checks run in this order -----------------
    # record: clouddrove/terraform-aws-cloudtrail#14
    "trail_name_blank": Answer("InvalidTrailNameException", "Trail name cannot be blank!"),
    # moto (tests/test_cloudtrail: test_create_trail_invalid_name)
    "trail_name_too_short": Answer(
        "InvalidTrailNameException",
        "Trail name too short. Minimum allowed length: 3 characters. "
        "Specified name length: {length} characters.",
    ),
    "trail_name_too_long": Answer(
        "InvalidTrailNameException",
        "Trail name too long. Maximum allowed length: 128 characters. "
        "Specified name length: {length} characters.",
    ),
    "trail_name_bad_start": Answer(
        "InvalidTrailNameException", "Trail name must starts with a letter or number."
    ),
    "trail_name_bad_end": Answer(
        "InvalidTrailNameException", "Trail name must ends with a letter or number."
    ),
    "trail_name_bad_characters": Answer(
        "InvalidTrailNameException",
        "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, "
        "periods (.), hyphens (-), and underscores (_).",
    ),
    # record: an implementation mirroring AWS's messages ("Trail name or ARN cannot have
    # adjacent ..."), the same phrasing as the character rule above
    "trail_name_adjacent_punctuation": Answer(
        "InvalidTrailNameException",
        "Trail name or ARN cannot have adjacent periods (.), hyphens (-), or underscores (_).",
    ),
    # guide line 4382 ("Not be in IP address format"); no recorded wording found
    "trail_name_ip_address": Answer(
        "InvalidTrailNameException", "Trail name cannot be formatted as an IP address."
    ),
    "trail_name_is_arn": Answer(
        "InvalidTrailNameException", "Trail name cannot be an ARN when creating a trail."
    ),
    # -- lookups -------------------------------------------------------------------------
    # moto; record: nozaq/terraform-aws-secure-baseline#306, turbot/steampipe-plugin-aws#577.
    # GetTrail names the trail as given; GetTrailStatus names the ARN (moto's note).
    "trail_not_found": Answer(
        "TrailNotFoundException", "Unknown trail: {name} for the user: {account}"
    ),
    # AWS's "Logging Insights events with the AWS CLI" quotes this answer
    "insight_not_enabled": Answer(
        "InsightNotEnabledException",
        "Trail {arn} does not have Insights enabled. Edit the trail settings to enable "
        "Insights, and then try the operation again.",
    ),
    # record: nozaq/terraform-aws-secure-baseline#306
    "trail_exists": Answer(
        "TrailAlreadyExistsException", "Trail {name} already exists for customer: {account}"
    ),
    # record: linz/geostore#1450 ("User: *** already has 5 trails in ap-southeast-2.")
    "too_many_trails": Answer(
        "MaximumNumberOfTrailsExceededException",
        "User: {account} already has 5 trails in {region}.",
    ),
    # ListTags' ResourceIdList "has a limit of 20 ARNs" (model); ListTags models no error
    # for it, so the answer is the JSON protocol's constraint violation, in the form
    # AWS's JSON services give a list longer than its documented limit
    "too_many_resources": Answer(
        "ValidationException",
        "1 validation error detected: Value at 'resourceIdList' failed to satisfy "
        "constraint: Member must have length less than or equal to {limit}",
    ),
    # model: ConflictException (UpdateTrail, CreateTrail, DeleteTrail, StartLogging,
    # PutEventSelectors, AddTags list it): another writer's change came first
    "conflict": Answer(
        "ConflictException",
        "This exception is thrown when the specified resource is not ready for an "
        "operation. This can occur when you try to run an operation on a resource before "
        "CloudTrail has time to fully load the resource, or because another operation is "
        "modifying the resource. If this exception occurs, wait a few minutes, and then "
        "try the operation again.",
    ),
    # -- destinations ----------------------------------------------------------------------
    # moto (check_bucket_exists)
    "bucket_missing": Answer("S3BucketDoesNotExistException", "S3 bucket {bucket} does not exist!"),
    # record: awsdocs/aws-cloudtrail-user-guide#24
    "bucket_policy": Answer(
        "InsufficientS3BucketPolicyException",
        "Incorrect S3 bucket policy is detected for bucket: {bucket}",
    ),
    # moto (check_topic_exists): an absent topic is indistinguishable from a denying one
    "topic_policy": Answer(
        "InsufficientSnsTopicPolicyException",
        "SNS Topic does not exist or the topic policy is incorrect!",
    ),
    # record: Azure/Azure-Sentinel#12242, trussworks/terraform-aws-cloudtrail#186
    "encryption_policy": Answer(
        "InsufficientEncryptionPolicyException",
        "Insufficient permissions to access S3 bucket {bucket} or KMS key {key}.",
    ),
    # recorder's own, after AWS's wording of the same exception: AWS's CloudTrail reads a
    # policy as the service, recorder as its delivery principal, whom the owner may refuse
    # (a refused read is never taken for "no policy": it says what was refused to whom)
    "bucket_policy_unreadable": Answer(
        "InsufficientS3BucketPolicyException",
        "Incorrect S3 bucket policy is detected for bucket: {bucket} ({principal} may not "
        "read it: s3:GetBucketPolicy refused with {error})",
    ),
    "topic_policy_unreadable": Answer(
        "InsufficientSnsTopicPolicyException",
        "SNS Topic does not exist or the topic policy is incorrect! ({principal} may not "
        "read the policy of {topic}: sns:GetTopicAttributes refused with {error})",
    ),
    "encryption_policy_unreadable": Answer(
        "InsufficientEncryptionPolicyException",
        "Insufficient permissions to access S3 bucket {bucket} or KMS key {key}. ({principal} "
        "may not read the key: {action} refused with {error})",
    ),
    # moto (responses.py)
    "multi_region_needs_global": Answer(
        "InvalidParameterCombinationException",
        "Multi-Region trail must include global service events.",
    ),
    # -- organizations (guide lines 217, 392, 3683) -------------------------------------------
    # record: aws/aws-cdk#21824 (CreateTrail/UpdateTrail IsOrganizationTrail by a member)
    "not_management_account": Answer(
        "NotOrganizationMasterAccountException",
        "You cannot configure or manage trails for an organization because this action "
        "requires being signed in with the management account.",
    ),
    # model: OrganizationsNotInUseException
    "organizations_not_in_use": Answer(
        "OrganizationsNotInUseException",
        "This exception is thrown when the request is made from an Amazon Web Services "
        "account that is not a member of an organization. To make this request, sign in "
        "using the credentials of an account that belongs to an organization.",
    ),
}


def answer(case: str, **fields: object) -> Answer:
    """The code and the filled-in message of ``case`` (a key of :data:`ANSWERS`)."""
    code, template = ANSWERS[case]
    return Answer(code, template.format(**fields))


def trail_error(case: str, **fields: object) -> TrailError:
    return TrailError(*answer(case, **fields))
