"""`recorder run api|all` stops before connecting anywhere when the API has no credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from recorder.cli import main


@pytest.fixture(autouse=True)
def _structlog_reset() -> Iterator[None]:
    """``run`` configures structlog on the captured stderr of this test; later tests in
    the process must not log into that stream once pytest has closed it."""
    yield
    structlog.reset_defaults()


@pytest.mark.parametrize("services", [["api"], ["all"]])
def test_api_without_credentials_refuses_to_start(
    services: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECORDER_API_CREDENTIALS_FILE", raising=False)
    monkeypatch.delenv("RECORDER_API_LOCAL_DEVELOPMENT", raising=False)
    monkeypatch.setenv("RECORDER_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # never reached
    assert main(["run", *services]) == 2
    assert "RECORDER_API_CREDENTIALS_FILE" in capsys.readouterr().err
