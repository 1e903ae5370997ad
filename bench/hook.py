"""The producer hook's cost on the caller's thread, side by side with the plain call.

    taskset -c 1 python bench/hook.py [--calls 1000] [--rounds 21]

A boto3 S3 client answers ``PutObject`` from botocore's ``Stubber`` (no network), once
without the hook and once with it installed, in alternating rounds. Each round is
timed by the calling thread's CPU clock (``time.thread_time``: what the caller's
thread spends, unaffected by other processes waiting for the core) and by the wall
clock; the fastest round of each is shown, the usual choice on a shared machine,
where slower rounds measure the neighbours. The hooked client hands its captures to a queue,
exactly what ``KafkaEventSink.defer`` does on the caller's thread; the sink's own
work (identity, shapes, masking, size limit, Avro encoding) is then timed per record
as the sink's thread would do it, and printed apart: it is not on the caller's thread.
Target (issue 14 item 5): hook overhead <= 50 us per call.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recorder.producer import Identity, install

IDENTITY = Identity(account_id="111122223333", access_key_id="AKIAIOSFODNN7EXAMPLE")


class QueueSink:
    """The caller-thread half of ``KafkaEventSink``: one ``SimpleQueue.put`` per call."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()

    def emit(self, key: bytes, value: bytes) -> None:
        self.queue.put((key, value))

    def defer(self, installation: Any, capture: Any) -> None:
        self.queue.put((installation, capture))


def _client() -> Any:
    session = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", region_name="us-east-1"
    )
    return session.client("s3")


def _round(client: Any, stub: Stubber, calls: int) -> tuple[float, float]:
    """(CPU, wall) microseconds per call on this thread."""
    for _ in range(calls):
        stub.add_response("put_object", {"ETag": '"9b2cf535f27731c974343645a3985328"'})
    cpu, wall = time.thread_time(), time.perf_counter()
    for i in range(calls):
        client.put_object(Bucket="bench-data", Key=f"reports/{i}.csv", Body=b"a,b\n1,2\n")
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    return cpu / calls * 1e6, wall / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()

    plain, hooked = _client(), _client()
    sink = QueueSink()
    install(hooked, sink, identity=IDENTITY)
    plain_stub, hooked_stub = Stubber(plain), Stubber(hooked)
    plain_stub.activate()
    hooked_stub.activate()
    _round(plain, plain_stub, 200)  # warm both (handler caches, model loading)
    _round(hooked, hooked_stub, 200)

    plain_us: list[tuple[float, float]] = []
    hooked_us: list[tuple[float, float]] = []
    render_us: list[float] = []
    for _ in range(args.rounds):
        plain_us.append(_round(plain, plain_stub, args.calls))
        hooked_us.append(_round(hooked, hooked_stub, args.calls))
        # render what was captured, as the sink's thread would, off the timed loop
        render_started = time.thread_time()
        rendered = 0
        while True:
            try:
                inst, capture = sink.queue.get_nowait()
            except queue.Empty:
                break
            inst.render(capture)
            rendered += 1
        render_us.append((time.thread_time() - render_started) / max(rendered, 1) * 1e6)

    pc, pw = min(c for c, _ in plain_us), min(w for _, w in plain_us)
    hc, hw = min(c for c, _ in hooked_us), min(w for _, w in hooked_us)
    print(f"calls per round: {args.calls}, rounds: {args.rounds} (fastest round shown)")
    print(f"{'':34}{'CPU us/call':>12}{'wall us/call':>14}")
    print(f"{'plain   S3 PutObject (stubbed)':34}{pc:12.1f}{pw:14.1f}")
    print(f"{'hooked  S3 PutObject (stubbed)':34}{hc:12.1f}{hw:14.1f}")
    print(f"{'hook overhead':34}{hc - pc:12.1f}{hw - pw:14.1f}")
    print(
        "sink thread, per record (build, mask, encode; not on the caller): "
        f"{statistics.median(render_us):.1f} us CPU"
    )
    print(f"hook overhead on the caller's thread = {hc - pc:.1f} us/call CPU (target <= 50)")


if __name__ == "__main__":
    main()
