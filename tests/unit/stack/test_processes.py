"""The launcher's stop order: quiesce command first, then the signal to the group."""

from __future__ import annotations

import sys
from pathlib import Path

from recorder.stack.processes import ServerProcess, free_port, port_open


def _server(tmp_path: Path, quiesce: list[str] | None) -> ServerProcess:
    port = free_port()
    serve = (
        "import socket,time;s=socket.socket();"
        f"s.bind(('127.0.0.1',{port}));s.listen();time.sleep(60)"
    )
    return ServerProcess(
        "toy", [sys.executable, "-c", serve], port, tmp_path / "toy.log", quiesce=quiesce
    )


def test_stop_runs_the_quiesce_command_before_signalling(tmp_path: Path) -> None:
    marker = tmp_path / "quiesced"
    server = _server(tmp_path, [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('1')"])
    server.start(timeout=10)
    assert port_open("127.0.0.1", server.port)
    server.stop(timeout=5)
    assert marker.read_text() == "1"
    assert not port_open("127.0.0.1", server.port)


def test_kill_skips_the_quiesce_command(tmp_path: Path) -> None:
    marker = tmp_path / "quiesced"
    server = _server(tmp_path, [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('1')"])
    server.start(timeout=10)
    server.kill()
    assert not marker.exists()
    assert not port_open("127.0.0.1", server.port)


def test_a_failing_quiesce_command_still_stops_the_server(tmp_path: Path) -> None:
    server = _server(tmp_path, [str(tmp_path / "no-such-binary")])
    server.start(timeout=10)
    server.stop(timeout=5)
    assert not port_open("127.0.0.1", server.port)
