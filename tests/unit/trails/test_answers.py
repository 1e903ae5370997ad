"""Every answer recorder gives is in the one table, and every entry is given somewhere."""

from __future__ import annotations

import ast
from pathlib import Path

from recorder.trails.errors import ANSWERS, answer

ROOT = Path(__file__).resolve().parents[3] / "recorder"


def _cases_named_in_the_code() -> set[str]:
    """The first argument of every ``answer("...")`` / ``trail_error("...")`` call."""
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None))
                in {"answer", "trail_error"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_case_the_code_names_is_in_the_table() -> None:
    """A case missing from the table is a KeyError, an InternalFailure to the caller."""
    assert _cases_named_in_the_code() - ANSWERS.keys() == set()


def test_every_entry_of_the_table_is_given_somewhere() -> None:
    assert ANSWERS.keys() - _cases_named_in_the_code() == set()


def test_encryption_policy_names_the_bucket_and_the_key() -> None:
    arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert answer("encryption_policy", bucket="my-logs", key=arn) == (
        "InsufficientEncryptionPolicyException",
        f"Insufficient permissions to access S3 bucket my-logs or KMS key {arn}.",
    )
