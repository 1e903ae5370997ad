"""Amazon MSK's IAM authentication: the token provider, and aiokafka clients configured
as aiokafka's OAUTHBEARER support expects (no local broker here takes MSK's tokens:
noida-db has no SASL, tansu's OAUTHBEARER validates OIDC JWTs)."""

from __future__ import annotations

import asyncio
import base64
import threading
from urllib.parse import parse_qs, urlparse

import pytest
from aiokafka.abc import AbstractTokenProvider
from aiokafka.conn import AIOKafkaConnection

from recorder.aws.msk import MskIamTokenProvider, generate_with_keys
from recorder.kafka import clients
from recorder.settings import Settings, SettingsError, kafka_security_kwargs


class Signer:
    """Tokens valid for 900 s from the clock, as the signer's (DEFAULT_TOKEN_EXPIRY_SECONDS)."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls: list[str] = []

    def __call__(self, region: str) -> tuple[str, int]:
        self.calls.append(region)
        return f"token-{len(self.calls)}", int((self.clock[0] + 900) * 1000)


async def test_a_token_is_reused_and_made_anew_before_it_expires() -> None:
    now = [1000.0]
    signer = Signer(now)
    provider = MskIamTokenProvider("eu-west-1", generate=signer, clock=lambda: now[0])
    assert isinstance(provider, AbstractTokenProvider)
    assert await provider.token() == "token-1"
    assert provider.refresh_margin() == 180.0  # a fifth of 900 s
    now[0] += 900 - 181
    assert await provider.token() == "token-1"  # 181 s left: still good for a connection
    now[0] += 1
    assert await provider.token() == "token-2"  # 180 s left: made anew before expiry
    assert signer.calls == ["eu-west-1", "eu-west-1"]


async def test_connections_opened_at_once_share_one_token() -> None:
    now = [0.0]
    signer = Signer(now)
    provider = MskIamTokenProvider("us-east-1", generate=signer, clock=lambda: now[0])
    tokens = await asyncio.gather(*(provider.token() for _ in range(20)))
    assert set(tokens) == {"token-1"} and provider.generated == 1


def test_the_producer_sinks_thread_and_the_services_loop_share_the_provider() -> None:
    now = [0.0]
    provider = MskIamTokenProvider("us-east-1", generate=Signer(now), clock=lambda: now[0])
    seen: list[str] = []

    def other_loop() -> None:
        seen.append(asyncio.run(provider.token()))

    thread = threading.Thread(target=other_loop)
    thread.start()
    seen.append(asyncio.run(provider.token()))
    thread.join()
    assert seen == ["token-1", "token-1"]


def test_a_real_token_is_a_signed_kafka_cluster_connect_url_for_the_region() -> None:
    token, expiry_ms = generate_with_keys("AKIDEXAMPLE", "secret")("eu-central-1")
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert parsed.netloc == "kafka.eu-central-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert "/eu-central-1/kafka-cluster/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Expires"] == ["900"] and expiry_ms > 0


MSK = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "OAUTHBEARER",
    "aws_region": "eu-west-1",
}


def test_settings_take_oauthbearer_over_tls_only() -> None:
    Settings(**MSK)  # no username or password: the AWS credentials sign
    with pytest.raises(SettingsError, match="needs RECORDER_KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        Settings(**{**MSK, "kafka_security_protocol": "SASL_PLAINTEXT"})


async def test_every_client_is_configured_as_aiokafkas_oauthbearer_expects() -> None:
    settings = Settings(**MSK, kafka_msk_region="eu-central-1")
    kwargs = kafka_security_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "OAUTHBEARER"
    provider = kwargs["sasl_oauth_token_provider"]
    assert isinstance(provider, MskIamTokenProvider) and provider.region == "eu-central-1"
    assert "sasl_plain_username" not in kwargs
    # aiokafka's own check of the combination, as a connection makes it
    AIOKafkaConnection("b-1.msk:9098", 9098, **{k: v for k, v in kwargs.items()})
    producer = clients.producer(settings)
    consumer = clients.consumer(settings, "routed", group_id="g")
    for client in (producer.client, consumer._client):  # what every connection is given
        assert client._sasl_mechanism == "OAUTHBEARER"
        assert isinstance(client._sasl_oauth_token_provider, MskIamTokenProvider)
        assert client._security_protocol == "SASL_SSL"
