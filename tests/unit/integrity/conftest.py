"""Signing keys are slow to make (RSA-2048), so one ring serves a whole session."""

from __future__ import annotations

import datetime as dt

import pytest

from recorder.integrity import KeyRing, SigningKey
from tests.unit.integrity.fakes import REGION, T0


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    key = SigningKey.generate(T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=29))
    return KeyRing(REGION, (key,))
