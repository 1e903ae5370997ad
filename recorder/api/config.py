"""The control API's own settings, read from ``RECORDER_API_*`` variables.

They live here until they move into :class:`recorder.settings.Settings`; like
Settings, a bad value stops the process at start with the variable's name.

* ``RECORDER_API_HOST`` (default ``127.0.0.1``): the address to listen on; the port
  is ``RECORDER_API_PORT`` (Settings.api_port).
* ``RECORDER_API_CREDENTIALS_FILE``: JSON credential store (see
  :class:`recorder.api.auth.CredentialStore`). Required: the API refuses to start
  without it, because a default key would let anyone who can reach the port act
  as an account.
* ``RECORDER_API_LOCAL_DEVELOPMENT`` (default false): with no credentials file,
  accept the local stack's well-known ``testing``/``testing`` key as account
  123456789012. Only the quick start (``make run``) and the test stack turn it on.
* ``RECORDER_API_LIST_PAGE_SIZE`` (default 50): ListTrails page size.
* ``RECORDER_API_READ_RATE`` / ``RECORDER_API_READ_BURST`` (default 10 / 20) and
  ``RECORDER_API_WRITE_RATE`` / ``RECORDER_API_WRITE_BURST`` (default 1 / 5): per
  account and region, requests per second and burst of the get/describe/list
  operations and of all others (guide line 1245); past them ``ThrottlingException``.
* ``RECORDER_API_MAX_BODY_BYTES`` (default 1 MiB): larger request bodies are refused
  before their signature is checked.
* ``RECORDER_API_LEASE_SECONDS`` (default 15): how long an account's write lease holds
  without a release (a crashed replica's is taken over after it); carried in each
  lease record, so replicas configured differently still decide alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from recorder.api.auth import CredentialStore
from recorder.api.limits import Rate, RateLimiter
from recorder.settings import SettingsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_LIST_PAGE_SIZE = 50
#: Guide line 1245: 10 TPS for get/describe/list, 1 TPS for the others.
DEFAULT_READ_RATE = Rate(10.0, 20.0)
DEFAULT_WRITE_RATE = Rate(1.0, 5.0)
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = DEFAULT_HOST
    credentials_file: Path | None = None
    list_page_size: int = DEFAULT_LIST_PAGE_SIZE
    local_development: bool = False
    read_rate: Rate = DEFAULT_READ_RATE
    write_rate: Rate = DEFAULT_WRITE_RATE
    max_body_bytes: int = 1024 * 1024
    lease_seconds: float = 15.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        env = os.environ if environ is None else environ
        host = env.get("RECORDER_API_HOST", "").strip() or DEFAULT_HOST
        raw_file = env.get("RECORDER_API_CREDENTIALS_FILE", "").strip()
        raw_size = env.get("RECORDER_API_LIST_PAGE_SIZE", "").strip() or str(DEFAULT_LIST_PAGE_SIZE)
        raw_dev = env.get("RECORDER_API_LOCAL_DEVELOPMENT", "").strip().lower() or "false"
        if raw_dev not in _BOOLS:
            raise SettingsError(
                f"RECORDER_API_LOCAL_DEVELOPMENT must be true or false, got {raw_dev!r}"
            )
        try:
            size = int(raw_size)
        except ValueError:
            size = 0
        if not 1 <= size <= 1000:
            raise SettingsError(f"RECORDER_API_LIST_PAGE_SIZE must be 1..1000, got {raw_size!r}")
        return cls(
            host=host,
            credentials_file=Path(raw_file) if raw_file else None,
            list_page_size=size,
            local_development=_BOOLS[raw_dev],
            read_rate=Rate(
                _number(env, "RECORDER_API_READ_RATE", 10.0),
                _number(env, "RECORDER_API_READ_BURST", 20.0, least=1.0),
            ),
            write_rate=Rate(
                _number(env, "RECORDER_API_WRITE_RATE", 1.0),
                _number(env, "RECORDER_API_WRITE_BURST", 5.0, least=1.0),
            ),
            max_body_bytes=int(
                _number(env, "RECORDER_API_MAX_BODY_BYTES", 1024 * 1024, least=1024.0)
            ),
            lease_seconds=_number(env, "RECORDER_API_LEASE_SECONDS", 15.0, least=1.0),
        )

    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(self.read_rate, self.write_rate)

    def credentials(self) -> CredentialStore:
        if self.credentials_file is None:
            if self.local_development:
                return CredentialStore.default()
            raise SettingsError(
                "the control API needs credentials: set RECORDER_API_CREDENTIALS_FILE "
                "(the chart: credentials.apiCredentials or credentials.existingSecret), or "
                "RECORDER_API_LOCAL_DEVELOPMENT=true to accept testing/testing on a laptop"
            )
        try:
            return CredentialStore.from_file(self.credentials_file)
        except (OSError, ValueError) as exc:
            raise SettingsError(f"RECORDER_API_CREDENTIALS_FILE: {exc}") from None


def _number(env: Mapping[str, str], name: str, default: float, least: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (least <= value < float("inf")) or (least == 0.0 and value <= 0):
        raise SettingsError(f"{name} must be a number of at least {least:g}, got {raw!r}")
    return value
