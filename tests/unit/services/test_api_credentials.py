"""`recorder run api|all` stops before connecting anywhere when the API has no credentials."""

from __future__ import annotations

import argparse

import pytest

from recorder.services.command import run


@pytest.mark.parametrize("services", [["api"], ["all"]])
def test_api_without_credentials_refuses_to_start(
    services: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECORDER_API_CREDENTIALS_FILE", raising=False)
    monkeypatch.delenv("RECORDER_API_LOCAL_DEVELOPMENT", raising=False)
    monkeypatch.setenv("RECORDER_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # never reached
    assert run(argparse.Namespace(services=services, metrics_host="127.0.0.1")) == 2
    assert "RECORDER_API_CREDENTIALS_FILE" in capsys.readouterr().err
