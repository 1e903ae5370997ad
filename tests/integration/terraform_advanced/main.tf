# An aws_cloudtrail resource with advanced event selectors, through recorder's control API.
# tests/integration/test_api_terraform_advanced.py applies and destroys it: CloudTrail calls go
# to the API under test, S3/SNS/KMS to the local moto server, nothing to AWS.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "cloudtrail_endpoint" {
  type = string
}

variable "aws_endpoint" {
  type = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "bucket" {
  type = string
}

# eventType in the selector too (hashicorp/aws 5.x refuses that field name itself,
# before any call; the test then skips that case and says so).
variable "event_type" {
  type    = bool
  default = true
}

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    cloudtrail = var.cloudtrail_endpoint
    s3         = var.aws_endpoint
    sns        = var.aws_endpoint
    kms        = var.aws_endpoint
  }
}

resource "aws_cloudtrail" "advanced" {
  name                          = "terraform-advanced"
  s3_bucket_name                = var.bucket
  include_global_service_events = true
  is_multi_region_trail         = true

  advanced_event_selector {
    name = "Management writes"

    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }

    field_selector {
      field  = "readOnly"
      equals = ["false"]
    }
  }

  advanced_event_selector {
    name = "S3 object API calls by the deploy role"

    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }

    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }

    field_selector {
      field       = "userIdentity.arn"
      starts_with = ["arn:aws:sts::123456789012:assumed-role/deploy/"]
    }

    dynamic "field_selector" {
      for_each = var.event_type ? ["AwsApiCall"] : []
      content {
        field  = "eventType"
        equals = [field_selector.value]
      }
    }
  }
}

output "arn" {
  value = aws_cloudtrail.advanced.arn
}
