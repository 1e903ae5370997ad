"""Amazon MSK's IAM authentication: SASL/OAUTHBEARER tokens for aiokafka.

MSK Serverless accepts only IAM authentication, and provisioned MSK clusters offer it
on their ``9098`` listeners: the client signs a ``kafka-cluster:Connect`` request
with its AWS credentials (the pod's IRSA role, the node's role) and sends the signed
URL as its OAUTHBEARER token. AWS's signer (``aws-msk-iam-sasl-signer-python``)
makes the token; this provider gives it to aiokafka (``sasl_mechanism="OAUTHBEARER"``,
``sasl_oauth_token_provider=...``, which aiokafka requires to be an
:class:`~aiokafka.abc.AbstractTokenProvider`).

aiokafka asks for a token each time it authenticates a connection, and does not
re-authenticate a live one: when MSK ends a connection whose session expired, aiokafka
connects again and asks again. So a token is reused while it has more than
``refresh_margin`` of its life left (a fifth of it, at least a minute) and is made
anew before then: every connection gets one that is valid for minutes yet. The token
is made in a worker thread (credential providers may do network I/O) under a lock,
so the connections opened at once share one; the provider serves the services' event
loop and the producer sink's thread alike.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from aiokafka.abc import AbstractTokenProvider

#: (token, expiry in epoch milliseconds), as the signer answers.
Token = tuple[str, int]
Generate = Callable[[str], Token]


def default_generate(region: str) -> Token:
    """A token signed with the default credential chain (IRSA, instance profile, env)."""
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    return str(token), int(expiry_ms)


def generate_with_keys(access_key: str, secret_key: str) -> Generate:
    """A generator signing with static keys (``RECORDER_AWS_ACCESS_KEY_ID``/``_SECRET``)."""
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    from botocore.credentials import CredentialProvider, Credentials

    class _Static(CredentialProvider):  # type: ignore[misc]
        METHOD = "recorder-settings"

        def load(self) -> Credentials:
            return Credentials(access_key, secret_key)

    def generate(region: str) -> Token:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
            region, _Static()
        )
        return str(token), int(expiry_ms)

    return generate


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    def __init__(
        self,
        region: str,
        *,
        generate: Generate = default_generate,
        clock: Callable[[], float] = time.time,
        min_margin: float = 60.0,
    ) -> None:
        if not region:
            raise ValueError("an MSK IAM token is signed for the cluster's region")
        self.region = region
        self._generate = generate
        self._clock = clock
        self._min_margin = min_margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0  # epoch seconds
        self._issued_at = 0.0
        self.generated = 0

    def refresh_margin(self) -> float:
        """Seconds before expiry at which a new token is made."""
        lifetime = max(0.0, self._expires_at - self._issued_at)
        return max(self._min_margin, lifetime / 5)

    def _fresh(self) -> str | None:
        if self._token is not None and self._clock() < self._expires_at - self.refresh_margin():
            return self._token
        return None

    def _current(self) -> str:
        with self._lock:
            token = self._fresh()
            if token is not None:
                return token
            issued = self._clock()
            token, expiry_ms = self._generate(self.region)
            self._token, self._issued_at, self._expires_at = token, issued, expiry_ms / 1000
            self.generated += 1
            return token

    async def token(self) -> str:
        with self._lock:
            token = self._fresh()
        if token is not None:
            return token
        return await asyncio.get_running_loop().run_in_executor(None, self._current)


__all__ = ["MskIamTokenProvider", "default_generate", "generate_with_keys"]
