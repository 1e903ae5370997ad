"""The control API's own settings, read from ``RECORDER_API_*`` variables.

They live here until they move into :class:`recorder.settings.Settings`; like
Settings, a bad value stops the process at start with the variable's name.

* ``RECORDER_API_HOST`` (default ``127.0.0.1``): the address to listen on; the port
  is ``RECORDER_API_PORT`` (Settings.api_port).
* ``RECORDER_API_CREDENTIALS_FILE``: JSON credential store (see
  :class:`recorder.api.auth.CredentialStore`); unset means the local stack's
  ``testing``/``testing`` -> account 123456789012.
* ``RECORDER_API_LIST_PAGE_SIZE`` (default 50): ListTrails page size.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from recorder.api.auth import CredentialStore
from recorder.settings import SettingsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_LIST_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = DEFAULT_HOST
    credentials_file: Path | None = None
    list_page_size: int = DEFAULT_LIST_PAGE_SIZE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        env = os.environ if environ is None else environ
        host = env.get("RECORDER_API_HOST", "").strip() or DEFAULT_HOST
        raw_file = env.get("RECORDER_API_CREDENTIALS_FILE", "").strip()
        raw_size = env.get("RECORDER_API_LIST_PAGE_SIZE", "").strip() or str(DEFAULT_LIST_PAGE_SIZE)
        try:
            size = int(raw_size)
        except ValueError:
            size = 0
        if not 1 <= size <= 1000:
            raise SettingsError(f"RECORDER_API_LIST_PAGE_SIZE must be 1..1000, got {raw_size!r}")
        return cls(
            host=host, credentials_file=Path(raw_file) if raw_file else None, list_page_size=size
        )

    def credentials(self) -> CredentialStore:
        if self.credentials_file is None:
            return CredentialStore.default()
        try:
            return CredentialStore.from_file(self.credentials_file)
        except (OSError, ValueError) as exc:
            raise SettingsError(f"RECORDER_API_CREDENTIALS_FILE: {exc}") from None
