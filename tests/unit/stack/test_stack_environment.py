"""A command in a new shell finds the local stack `make run` started (issue 27 item 7)."""

from __future__ import annotations

from pathlib import Path

from recorder.demo import demo_settings
from recorder.stack.local import LocalStack


def test_the_state_file_gives_the_stack_to_a_shell_that_exports_nothing(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / ".stack", kafka_port=39092, moto_port=39000, api_port=38080)
    stack.root.mkdir()
    stack._write_state()
    settings = demo_settings(stack.root, {})
    assert settings.bootstrap_servers == "127.0.0.1:39092"
    assert settings.aws_endpoint_url == "http://127.0.0.1:39000"
    assert settings.api_port == 38080
    assert (settings.aws_access_key_id, settings.aws_secret_access_key) == ("testing", "testing")
    assert settings.producers_file == stack.producers_file
    # what the shell does export wins; with no state file, the settings' own defaults
    assert (
        demo_settings(stack.root, {"RECORDER_BOOTSTRAP_SERVERS": "b:1"}).bootstrap_servers == "b:1"
    )
    assert demo_settings(tmp_path / "none", {}).bootstrap_servers == "127.0.0.1:29092"
