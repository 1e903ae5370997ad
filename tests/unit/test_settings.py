"""Settings: every bad value is reported at start with the variable's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recorder.settings import Settings, SettingsError, kafka_security_kwargs


def test_defaults_and_env_values() -> None:
    s = Settings.from_env(
        {
            "RECORDER_CUT_INTERVAL": "5",
            "RECORDER_PARTITIONS": "8",
            "RECORDER_TRAILS_FILE": "/etc/trails.json",
            "RECORDER_TOPIC_ROUTED": "recorder.routed",
            "RECORDER_KAFKA_SSL_CHECK_HOSTNAME": "false",
        }
    )
    assert s.cut_interval == 5.0 and s.partitions == 8
    assert s.trails_file == Path("/etc/trails.json")
    assert s.topics.routed == "recorder.routed" and s.topics.api_events == "api-events"
    assert s.kafka_ssl_check_hostname is False
    assert "aws_access_key_id" not in s.aws_client_kwargs()  # default credential chain


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECORDER_CUT_INTERVAL": "soon"}, "RECORDER_CUT_INTERVAL='soon' is not a valid float"),
        ({"RECORDER_CUT_INTERVAL": "0"}, "RECORDER_CUT_INTERVAL must be > 0 seconds, got 0.0"),
        ({"RECORDER_PARTITIONS": "0"}, "RECORDER_PARTITIONS must be >= 1, got 0"),
        (
            {"RECORDER_LOG_LEVEL": "loud"},
            "RECORDER_LOG_LEVEL must be debug|info|warning|error, got 'loud'",
        ),
        (
            {"RECORDER_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "RECORDER_KAFKA_SECURITY_PROTOCOL must be one of",
        ),
        (
            {"RECORDER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "RECORDER_KAFKA_SASL_USERNAME and RECORDER_KAFKA_SASL_PASSWORD are required",
        ),
        (
            {"RECORDER_KAFKA_COMPRESSION": "brotli"},
            r"RECORDER_KAFKA_COMPRESSION must be one of \['gzip', 'lz4', 'none', 'snappy', "
            r"'zstd'\], got 'brotli'",
        ),
        ({"RECORDER_AWS_ACCESS_KEY_ID": "AKIA"}, "go together"),
        ({"RECORDER_KAFKA_SSL_CHECK_HOSTNAME": "maybe"}, "is not a valid bool"),
        (
            {"RECORDER_GC_THRESHOLD": "-1"},
            "RECORDER_GC_THRESHOLD must be 0-10000000 allocations, got -1",
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace("|", r"\|")):
        Settings.from_env(env)


def test_sasl_kwargs() -> None:
    s = Settings.from_env(
        {
            "RECORDER_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "RECORDER_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "RECORDER_KAFKA_SASL_USERNAME": "u",
            "RECORDER_KAFKA_SASL_PASSWORD": "p",
        }
    )
    assert kafka_security_kwargs(s) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "u",
        "sasl_plain_password": "p",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECORDER_PARTITIONS": "four"}, "RECORDER_PARTITIONS='four' is not a valid int"),
        ({"RECORDER_BATCH_MAX_BYTES": "1.5"}, "RECORDER_BATCH_MAX_BYTES='1.5' is not a valid int"),
        (
            {"RECORDER_ROUTER_TRANSACTIONS": "sometimes"},
            "RECORDER_ROUTER_TRANSACTIONS='sometimes' is not a valid bool",
        ),
        (
            {"RECORDER_GROUP_MEMBERSHIP": "elastic"},
            "RECORDER_GROUP_MEMBERSHIP must be dynamic|static, got 'elastic'",
        ),
        (
            {
                "RECORDER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "RECORDER_KAFKA_SASL_MECHANISM": "MD5",
            },
            "RECORDER_KAFKA_SASL_MECHANISM must be one of ['OAUTHBEARER', 'PLAIN', "
            "'SCRAM-SHA-256', 'SCRAM-SHA-512'], got 'MD5'",
        ),
    ],
)
def test_a_bad_int_bool_or_choice_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RECORDER_PARTITIONS": "x", "RECORDER_CUT_INTERVAL": "y"})
    assert str(caught.value) == (
        "RECORDER_PARTITIONS='x' is not a valid int; RECORDER_CUT_INTERVAL='y' is not a valid float"
    )


def test_built_by_hand_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Makefile exports RECORDER_*; Settings() in a test still means the defaults."""
    monkeypatch.setenv("RECORDER_PARTITIONS", "9")
    monkeypatch.setenv("RECORDER_TOPIC_ROUTED", "elsewhere")
    assert Settings().partitions == 4 and Settings().topics.routed == "routed"
    assert Settings.from_env().partitions == 9
    assert Settings.from_env().topics.routed == "elsewhere"
    assert Settings.from_env(partitions=2).partitions == 2  # overrides win


def test_built_by_hand_is_checked_too() -> None:
    with pytest.raises(SettingsError, match="RECORDER_PARTITIONS must be >= 1, got 0"):
        Settings(partitions=0)


def test_empty_optional_file_and_topic_mean_unset() -> None:
    s = Settings.from_env({"RECORDER_KAFKA_SSL_CAFILE": "", "RECORDER_TOPIC_DLQ": ""})
    assert s.kafka_ssl_cafile is None and s.topics.dlq == "api-events-dlq"


def test_the_cli_reports_bad_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from recorder.cli import main

    monkeypatch.setenv("RECORDER_CUT_INTERVAL", "abc")
    assert main(["run", "router"]) == 2
    err = capsys.readouterr().err
    assert err == "recorder: bad settings: RECORDER_CUT_INTERVAL='abc' is not a valid float\n"


def test_a_producer_key_comes_from_the_secret_or_the_producers_file(tmp_path: Path) -> None:
    from recorder.provenance import ProducerKey
    from recorder.provenance.keys import producers_document

    key = ProducerKey.generate("app-1")
    assert (
        Settings(producer_key_id="app-1", producer_secret=key.secret.decode()).producer_key() == key
    )
    path = tmp_path / "producers.json"
    path.write_text(json.dumps(producers_document("app", ["*"], [key])))
    assert Settings(producer_key_id="app-1", producers_file=path).producer_key() == key
    with pytest.raises(SettingsError, match="RECORDER_PRODUCER_KEY_ID is required"):
        Settings().producer_key()
    with pytest.raises(SettingsError, match="'app-2' is not a key of"):
        Settings(producer_key_id="app-2", producers_file=path).producer_key()
    with pytest.raises(SettingsError, match="RECORDER_PRODUCER_SECRET is required"):
        Settings(producer_key_id="app-1").producer_key()
    assert key.secret.decode() not in repr(Settings(producer_secret=key.secret.decode()))


def test_readers_of_api_events_need_the_producers_file() -> None:
    with pytest.raises(SettingsError, match="RECORDER_PRODUCERS_FILE is required"):
        Settings().admission_keys()
