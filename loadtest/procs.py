"""Launch recorder's real CLI as a subprocess against a stack: tests and harnesses share it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port, stop_group


@dataclass
class RecorderProcess:
    """``recorder run <services>`` in its own process group, killable like in production."""

    stack: LocalStack
    services: list[str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0

    def start(self, wait_ready: float | None = 60.0) -> RecorderProcess:
        """Spawn it and wait until it is ready (``wait_ready`` None: do not wait; poll
        :meth:`ready`). A process that does not get ready is killed before the error is
        raised: a failed start never leaves a recorder running."""
        self.metrics_port = free_port()
        env = {
            **os.environ,
            **self.stack.environment(),
            "RECORDER_METRICS_PORT": str(self.metrics_port),
            "RECORDER_CUT_INTERVAL": "2",
            "RECORDER_LOG_LEVEL": "info",
            # the test stack's API: testing/testing is accepted, and tests that are
            # not about throttling are not throttled (tests/security sets its own)
            "RECORDER_API_LOCAL_DEVELOPMENT": "true",
            "RECORDER_API_READ_RATE": "10000",
            "RECORDER_API_READ_BURST": "10000",
            "RECORDER_API_WRITE_RATE": "10000",
            "RECORDER_API_WRITE_BURST": "10000",
            **self.env,
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"recorder-{'-'.join(self.services)}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recorder.cli", "run", *self.services],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait_ready is None:
            return self
        deadline = time.monotonic() + wait_ready
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.kill()  # whatever it left in its group
                raise RuntimeError(f"recorder exited {code}: {self.log_text()[-3000:]}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"recorder not ready: {self.log_text()[-3000:]}")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=1
            ) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            return str(r.read().decode())

    def metric(self, name: str) -> float:
        """A Prometheus sample's value summed over its labels (0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            m = re.match(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", line)
            if m:
                total += float(m.group(1))
        return total

    def log_text(self) -> str:
        path = self.workdir / f"recorder-{'-'.join(self.services)}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(self.proc.pid, signal.SIGKILL)
            code = -9
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            stop_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
