"""``python -m recorder``: the same entry point as the ``recorder`` script."""

from __future__ import annotations

import sys

from recorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
