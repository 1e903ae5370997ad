import argparse

import pytest

from loadtest.faultproxy import parse_bucket_fault


def test_bucket_fault_spec() -> None:
    assert parse_bucket_fault("logs=503:SlowDown") == ("logs", (503, "SlowDown"))
    assert parse_bucket_fault("b=400:KMS.DisabledException") == (
        "b",
        (400, "KMS.DisabledException"),
    )


@pytest.mark.parametrize("spec", ["logs", "logs=503", "=503:SlowDown", "logs=x:SlowDown"])
def test_bad_bucket_fault_spec_is_refused(spec: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="BUCKET=STATUS:CODE"):
        parse_bucket_fault(spec)
