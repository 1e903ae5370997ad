"""The Dockerfile, read (Docker is not run here): multi-stage, slim, non-root, no caches."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from tests.unit.helm.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "python3-dev", "libffi-dev", "git")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def instructions(text: str) -> list[tuple[str, str]]:
    """(OP, arguments) per instruction, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            op, _, arg = line.strip().partition(" ")
            out.append((op.upper(), " ".join(arg.split())))
    return out


def stages() -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    found: list[Stage] = []
    for op, arg in instructions(DOCKERFILE.read_text()):
        if op == "FROM":
            words = arg.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif not found and op == "ARG":
            key, _, default = arg.partition("=")
            args[key] = default
        else:
            found[-1].instructions.append((op, arg))
    return args, found


@pytest.fixture(scope="module")
def parsed() -> list[Stage]:
    return stages()[1]


def test_two_stages_builder_then_slim_runtime(parsed: list[Stage]) -> None:
    assert [s.name for s in parsed] == ["builder", "runtime"]
    assert all(s.base == "python:3.11-slim" for s in parsed)


def test_builder_builds_a_wheel_into_a_venv(parsed: list[Stage]) -> None:
    builder = " && ".join(parsed[0].all("RUN"))
    assert "python -m venv /opt/recorder" in builder
    assert "pip wheel" in builder
    assert "/opt/recorder/bin/pip install --no-cache-dir /wheels/recorder-*.whl" in builder


def test_runtime_copies_only_the_venv(parsed: list[Stage]) -> None:
    runtime = parsed[1]
    assert runtime.all("COPY") == ["--from=builder /opt/recorder /opt/recorder"]
    assert "PATH=/opt/recorder/bin:$PATH" in " ".join(runtime.all("ENV"))


def test_runtime_installs_no_build_tools(parsed: list[Stage]) -> None:
    runtime_runs = " ".join(parsed[1].all("RUN"))
    assert "apt-get install" not in runtime_runs
    assert "pip " not in runtime_runs
    for tool in BUILD_TOOLS:
        assert not re.search(rf"(^|\s){re.escape(tool)}(\s|$)", runtime_runs), tool
    # pip and setuptools leave the venv before it is copied.
    assert "pip uninstall --yes pip setuptools" in " ".join(parsed[0].all("RUN"))


def test_no_pip_cache_anywhere(parsed: list[Stage]) -> None:
    for stage in parsed:
        for run in stage.all("RUN"):
            for command in run.split("&&"):
                words = shlex.split(command)
                if "pip" in (w.rsplit("/", 1)[-1] for w in words[:2]) and (
                    "install" in words or "wheel" in words
                ):
                    assert "--no-cache-dir" in words, command
    assert "PIP_NO_CACHE_DIR=1" in " ".join(parsed[0].all("ENV"))


def test_runs_as_non_root_uid_10001(parsed: list[Stage]) -> None:
    runtime = parsed[1]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes can check runAsNonRoot against the image.
    assert (uid, gid) == ("10001", "10001")
    assert "--uid 10001" in " ".join(runtime.all("RUN"))
    # USER comes before the entrypoint takes effect and after every RUN.
    ops = [op for op, _ in runtime.instructions]
    assert ops.index("USER") > max(i for i, op in enumerate(ops) if op == "RUN")


def test_entrypoint_cmd_and_healthcheck(parsed: list[Stage]) -> None:
    runtime = parsed[1]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    assert json.loads(entrypoint) == ["recorder"]
    assert json.loads(cmd) == ["run", "all"]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    probe = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"]
    assert "urllib.request.urlopen" in probe[2]
    assert "/healthz" in probe[2]
    assert "RECORDER_METRICS_PORT" in probe[2]
    compile(probe[2], "healthcheck", "exec")
    assert "8080" in runtime.all("EXPOSE")[0].split()
    assert "9464" in runtime.all("EXPOSE")[0].split()


def test_dockerignore_admits_only_what_the_builder_copies(parsed: list[Stage]) -> None:
    lines = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copied = set()
    for copy in parsed[0].all("COPY"):
        copied.update(p.rstrip("/") for p in copy.split()[:-1] if not p.startswith("--"))
    assert admitted == copied == {"pyproject.toml", "README.md", "recorder"}
    for path in ("pyproject.toml", "README.md", "recorder/__init__.py"):
        assert (REPO / path).exists(), path
