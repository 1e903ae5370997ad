"""The guide's example records (``guide_records.json``) and helpers the tests share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

FIXTURE = Path(__file__).with_name("guide_records.json")
#: The guide itself, beside the repository (``/work/shared/seed``); tests that read it
#: skip when it is not there.
GUIDE = Path(__file__).resolve().parents[4] / "shared" / "seed" / "cloudtrail-user-guide.txt"

ENTRIES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["entries"]
RECORDS: list[dict[str, Any]] = [e for e in ENTRIES if "record" in e]


def record_at(line: int) -> dict[str, Any]:
    """A fresh copy of the guide record whose ``eventVersion`` is on ``line``."""
    (entry,) = (e for e in RECORDS if e["line"] == line)
    return json.loads(json.dumps(entry["record"]))


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: unlike ``==``, ``true`` is not ``1`` and ``1.0`` is not ``1``."""
    opt = orjson.OPT_SORT_KEYS
    return bool(a == b) and orjson.dumps(a, option=opt) == orjson.dumps(b, option=opt)
