"""moto's server, with S3's conditional writes made atomic: ``python -m recorder.stack.motoserve``.

moto checks ``If-None-Match: *`` / ``If-Match`` and then stores the object, in two
steps, on a threaded server: two conditional puts of one key that arrive together
can both pass the check, and the second silently overwrites the first (measured
here: 2 races of 150 with two concurrent puts of a 200 kB body on moto 5.2.6). S3
decides them atomically, one wins and the other gets 412 (or 409 while the first
is in flight). Digests and Merkle log tiles rely on that, so the local stack runs
moto with conditional puts serialised by one lock: the emulator refuses what S3
refuses. Unconditional puts are left as they are.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


def _atomic_conditional_puts() -> None:
    from moto.s3.responses import S3Response

    lock = threading.Lock()
    put_object = S3Response.put_object

    def conditional_put_object(self: Any) -> Any:
        if self.headers.get("If-None-Match") or self.headers.get("If-Match"):
            with lock:
                return put_object(self)
        return put_object(self)

    S3Response.put_object = conditional_put_object  # type: ignore[method-assign]


def main() -> None:
    _atomic_conditional_puts()
    from moto.server import main as serve

    sys.argv[0] = "moto_server"
    serve()


if __name__ == "__main__":
    main()
