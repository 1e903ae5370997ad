"""RECORDER_API_* settings: defaults, a credentials file, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.api.config import ApiConfig
from recorder.settings import SettingsError


def test_defaults() -> None:
    config = ApiConfig.from_env({})
    assert (config.host, config.credentials_file, config.list_page_size) == ("127.0.0.1", None, 50)
    assert (config.read_rate.per_second, config.write_rate.per_second) == (10.0, 1.0)
    assert config.local_development is False


def test_no_credentials_source_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="RECORDER_API_CREDENTIALS_FILE"):
        ApiConfig.from_env({}).credentials()


def test_local_development_accepts_the_local_stacks_key() -> None:
    config = ApiConfig.from_env({"RECORDER_API_LOCAL_DEVELOPMENT": "true"})
    assert config.credentials().get("testing") is not None


def test_allow_list_of_actions(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        '{"credentials": [{"AccessKeyId": "K", "SecretAccessKey": "S", '
        '"AccountId": "111111111111", "Actions": ["DescribeTrails", "cloudtrail:Get*"]}]}'
    )
    config = ApiConfig.from_env({"RECORDER_API_CREDENTIALS_FILE": str(path)})
    credential = config.credentials().get("K")
    assert credential is not None
    allowed = [
        op
        for op in ("DescribeTrails", "GetTrail", "GetTrailStatus", "CreateTrail", "ListTrails")
        if credential.principal.allows(op)
    ]
    assert allowed == ["DescribeTrails", "GetTrail", "GetTrailStatus"]


def test_values(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        '{"credentials": [{"AccessKeyId": "K", "SecretAccessKey": "S", "AccountId": "111111111111"}]}'
    )
    config = ApiConfig.from_env(
        {
            "RECORDER_API_HOST": "0.0.0.0",
            "RECORDER_API_CREDENTIALS_FILE": str(path),
            "RECORDER_API_LIST_PAGE_SIZE": "7",
        }
    )
    assert (config.host, config.list_page_size) == ("0.0.0.0", 7)
    assert config.credentials().get("testing") is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"RECORDER_API_LIST_PAGE_SIZE": "0"}, "RECORDER_API_LIST_PAGE_SIZE"),
        ({"RECORDER_API_LIST_PAGE_SIZE": "x"}, "RECORDER_API_LIST_PAGE_SIZE"),
        ({"RECORDER_API_CREDENTIALS_FILE": "/nonexistent.json"}, "RECORDER_API_CREDENTIALS_FILE"),
        ({"RECORDER_API_LOCAL_DEVELOPMENT": "maybe"}, "RECORDER_API_LOCAL_DEVELOPMENT"),
        ({"RECORDER_API_WRITE_RATE": "-1"}, "RECORDER_API_WRITE_RATE"),
        ({"RECORDER_API_READ_BURST": "0.5"}, "RECORDER_API_READ_BURST"),
        ({"RECORDER_API_MAX_BODY_BYTES": "x"}, "RECORDER_API_MAX_BODY_BYTES"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        ApiConfig.from_env(env).credentials()
