# An aws_cloudtrail resource managed through recorder's control API.
# tests/integration/test_api_terraform.py applies and destroys it: CloudTrail calls go
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

resource "aws_cloudtrail" "example" {
  name                          = "terraform-trail"
  s3_bucket_name                = var.bucket
  s3_key_prefix                 = "tf"
  include_global_service_events = true
  is_multi_region_trail         = true
  enable_log_file_validation    = true

  event_selector {
    read_write_type           = "All"
    include_management_events = true

    data_resource {
      type   = "AWS::S3::Object"
      values = ["arn:aws:s3:::${var.bucket}/"]
    }
  }

  event_selector {
    read_write_type                  = "WriteOnly"
    include_management_events        = true
    exclude_management_event_sources = ["kms.amazonaws.com"]
  }

  tags = {
    Owner = "terraform"
  }
}

output "arn" {
  value = aws_cloudtrail.example.arn
}

output "home_region" {
  value = aws_cloudtrail.example.home_region
}
