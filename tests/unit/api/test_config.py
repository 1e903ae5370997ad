"""RECORDER_API_* settings: defaults, a credentials file, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.api.config import ApiConfig
from recorder.settings import SettingsError


def test_defaults() -> None:
    config = ApiConfig.from_env({})
    assert (config.host, config.credentials_file, config.list_page_size) == ("127.0.0.1", None, 50)
    assert config.credentials().get("testing") is not None


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
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        ApiConfig.from_env(env).credentials()
