"""scripts/install-prometheus.sh, with stand-ins for apt-get, apt-cache and dpkg-deb
(no network, nothing installed on the machine)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.tools import REPO

SCRIPT = REPO / "scripts" / "install-prometheus.sh"
BASH = shutil.which("bash")
VERSION = "2.42.0+ds"

pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_tool(name: str, version: str) -> str:
    return f"#!/bin/sh\necho '{name}, version {version} (branch: debian/sid)'\n"


def fake_debian(tmp_path: Path, *, version: str = VERSION, candidate: str = "2.42.0+ds-5") -> Path:
    """apt-cache knows the package; apt-get download writes a .deb; dpkg-deb -x unpacks
    usr/bin/prometheus and usr/bin/promtool reporting ``version``."""
    bin_dir = tmp_path / "debian-bin"
    bin_dir.mkdir()
    executable(
        bin_dir / "apt-cache", f"#!/bin/sh\necho 'prometheus:'\necho '  Candidate: {candidate}'\n"
    )
    executable(
        bin_dir / "apt-get",
        f'#!/bin/sh\necho "$@" >> "{tmp_path}/apt-get-args"\n'
        '[ "$1" = download ] || exit 2\n'
        "touch prometheus_2.42.0+ds-5_amd64.deb\n",
    )
    payload = tmp_path / "payload"
    (payload / "usr" / "bin").mkdir(parents=True)
    for name in ("prometheus", "promtool"):
        executable(payload / "usr" / "bin" / name, fake_tool(name, version))
    executable(
        bin_dir / "dpkg-deb",
        f'#!/bin/sh\n[ "$1" = -x ] || exit 2\nmkdir -p "$3" && cp -r "{payload}/usr" "$3/"\n',
    )
    return bin_dir


def run(dest: Path, path_dirs: list[Path]) -> subprocess.CompletedProcess[str]:
    tools = dest.parent / "basic-bin"
    if not tools.exists():
        tools.mkdir()
        for name in (
            "sed",
            "ls",
            "head",
            "mktemp",
            "rm",
            "mv",
            "mkdir",
            "chmod",
            "cat",
            "cp",
            "touch",
            "id",
            "dirname",
        ):
            found = shutil.which(name)
            assert found, name
            os.symlink(found, tools / name)
    env = {"PATH": os.pathsep.join(str(p) for p in [*path_dirs, tools]), "TMPDIR": str(dest.parent)}
    return subprocess.run(
        [str(BASH), str(SCRIPT), str(dest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_script_is_valid_bash_and_takes_debians_package() -> None:
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run([str(BASH), "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    assert 'PACKAGE="prometheus"' in text
    assert "apt-get download" in text and "dpkg-deb -x" in text


def test_installs_promtool_and_prometheus_from_the_unpacked_package(tmp_path: Path) -> None:
    dest = tmp_path / "tools"
    debian = fake_debian(tmp_path)
    proc = run(dest, [debian])
    assert proc.returncode == 0, proc.stderr
    assert f"installed prometheus and promtool {VERSION}" in proc.stdout
    for name in ("prometheus", "promtool"):
        assert os.access(dest / name, os.X_OK)
    assert (tmp_path / "apt-get-args").read_text().split() == [
        "download",
        "-qq",
        "prometheus=2.42.0+ds-5",
    ]
    # A second run finds both and downloads nothing.
    again = run(dest, [debian])
    assert again.returncode == 0, again.stderr
    assert f"already {VERSION}" in again.stdout
    assert len((tmp_path / "apt-get-args").read_text().splitlines()) == 1


def test_missing_apt_get_is_a_clear_error(tmp_path: Path) -> None:
    proc = run(tmp_path / "tools", [])
    assert proc.returncode != 0
    assert "apt-get is required" in proc.stderr


def test_a_package_without_the_expected_version_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "tools"
    proc = run(dest, [fake_debian(tmp_path, version="1.8.2")])
    assert proc.returncode != 0
    assert "expected 2.x" in proc.stderr
    assert not (dest / "promtool").exists()
