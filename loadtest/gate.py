"""A TCP relay that can be closed and opened again: a service that becomes unreachable.

``Gate(upstream_port).start()`` listens on a port of its own and relays every
connection to ``127.0.0.1:upstream_port``. ``close()`` stops listening and cuts
the connections in flight, so a client sees what it sees when the service is gone
(connection refused); ``open()`` listens on the same port again. The STS outage
test and ``loadtest.sts_outage`` put one in front of moto's STS.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

from recorder.stack.processes import free_port


@dataclass
class Gate:
    upstream_port: int
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    connections: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="gate")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Gate:
        self._thread.start()
        self.open()
        return self

    def open(self) -> None:
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)

    def stop(self) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def is_open(self) -> bool:
        return self._server is not None

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._relay, self.host, self.port, reuse_address=True
            )

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
