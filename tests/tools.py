"""Binaries the tests run that are not Python packages: helm, promtool, prometheus.

``make test`` installs them into ``./.tools`` (scripts/install-helm.sh,
scripts/install-prometheus.sh) and sets ``RECORDER_REQUIRE_HELM`` /
``RECORDER_REQUIRE_PROMETHEUS``: there a missing binary fails the test instead of
skipping it, so a broken install cannot pass as a green run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: binary -> (the variable that makes it required, how to install it)
TOOLS = {
    "helm": ("RECORDER_REQUIRE_HELM", "scripts/install-helm.sh"),
    "promtool": ("RECORDER_REQUIRE_PROMETHEUS", "scripts/install-prometheus.sh"),
    "prometheus": ("RECORDER_REQUIRE_PROMETHEUS", "scripts/install-prometheus.sh"),
}


def find_tool(name: str) -> str | None:
    local = REPO / ".tools" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """The binary's path; else skip, or fail where ``make test`` requires it."""
    found = find_tool(name)
    if found is not None:
        return found
    variable, script = TOOLS[name]
    reason = f"{name} not found at ./.tools/{name} or on PATH; run {script}"
    if os.environ.get(variable):
        pytest.fail(reason)
    pytest.skip(reason)
