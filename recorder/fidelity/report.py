"""Replay a corpus of records AWS wrote and count how the hook's records compare.

The figures the acceptance of the fidelity tier names:

* ``identity``: every identity field AWS wrote matches (``compare.IDENTITY``);
* ``identity+requestParameters``: that, and every ``requestParameters`` key path;
* ``resources`` / ``apiVersion``: matching, among the records where AWS writes them.

A record that cannot be replayed counts as matching nothing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recorder.fidelity.compare import FIELDS, IDENTITY, Difference, compare, judged
from recorder.fidelity.replay import NotReplayable, replay

#: Where the corpus lives beside a checkout (``shared/`` next to the repository root).
DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "fidelity" / "corpus.jsonl"


@dataclass(frozen=True, slots=True)
class Entry:
    source: str
    record: Mapping[str, Any]

    @property
    def name(self) -> str:
        r = self.record
        return f"{r.get('eventSource')} {r.get('eventName')} ({self.source.rsplit('/', 1)[-1]})"


def corpus_path(setting: Path | None = None) -> Path:
    return setting if setting is not None else DEFAULT_CORPUS


def load(path: Path) -> list[Entry]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                doc = json.loads(line)
                out.append(Entry(str(doc.get("source", "")), doc["record"]))
    return out


@dataclass
class Outcome:
    entry: Entry
    produced: dict[str, Any] | None
    differences: list[Difference]
    judged: tuple[str, ...]
    error: str | None = None

    def matches(self, name: str) -> bool:
        """Whether field ``name`` (one of FIELDS) matches; False when not replayed."""
        if self.error is not None:
            return False
        return not any(d.field == name for d in self.differences)

    @property
    def identity(self) -> bool:
        return self.error is None and all(self.matches(n) for n in IDENTITY if n in self.judged)

    @property
    def identity_and_request(self) -> bool:
        return self.identity and self.matches("requestParameters.keys")


def run(entries: Iterable[Entry]) -> list[Outcome]:
    out = []
    for entry in entries:
        try:
            produced = replay(entry.record)
        except NotReplayable as exc:
            out.append(Outcome(entry, None, [], judged(entry.record), str(exc)))
            continue
        out.append(Outcome(entry, produced, compare(entry.record, produced), judged(entry.record)))
    return out


@dataclass
class Figures:
    records: int
    replayed: int
    identity: int
    identity_and_request: int
    per_field: dict[str, tuple[int, int]]  # field -> (matching, judged)
    per_service: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    def share(self, name: str) -> float:
        ok, n = self.per_field.get(name, (0, 0))
        return ok / n if n else 1.0


def figures(outcomes: list[Outcome]) -> Figures:
    per_field: dict[str, list[int]] = {f: [0, 0] for f in FIELDS}
    per_service: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {f: [0, 0] for f in ("identity", "identity+requestParameters", *FIELDS)}
    )
    for o in outcomes:
        service = str(o.entry.record.get("eventSource", "?")).removesuffix(".amazonaws.com")
        row = per_service[service]
        for name in o.judged:
            ok = o.matches(name)
            per_field[name][0] += ok
            per_field[name][1] += 1
            row[name][0] += ok
            row[name][1] += 1
        row["identity"][0] += o.identity
        row["identity"][1] += 1
        row["identity+requestParameters"][0] += o.identity_and_request
        row["identity+requestParameters"][1] += 1
    return Figures(
        records=len(outcomes),
        replayed=sum(o.error is None for o in outcomes),
        identity=sum(o.identity for o in outcomes),
        identity_and_request=sum(o.identity_and_request for o in outcomes),
        per_field={k: (v[0], v[1]) for k, v in per_field.items()},
        per_service={
            s: {k: (v[0], v[1]) for k, v in row.items() if v[1]}
            for s, row in sorted(per_service.items())
        },
    )


def _pct(ok: int, n: int) -> str:
    return f"{100 * ok / n:5.1f}% ({ok}/{n})" if n else "    -"


def table(f: Figures) -> str:
    lines = [
        f"records {f.records}, replayed {f.replayed}",
        f"identity fields match:                 {_pct(f.identity, f.records)}",
        f"... and every requestParameters path:  {_pct(f.identity_and_request, f.records)}",
        "",
        "per field (records where AWS writes the field):",
    ]
    lines += [f"  {name:28} {_pct(*f.per_field[name])}" for name in FIELDS if f.per_field[name][1]]
    cols = ("identity", "identity+requestParameters", "resources", "apiVersion",
            "responseElements.keys")  # fmt: skip
    lines += [
        "",
        "per service:",
        "  " + f"{'eventSource':28}" + "".join(f"{c[:22]:>24}" for c in cols),
    ]
    for service, row in f.per_service.items():
        cells = "".join(f"{_pct(*row[c]) if c in row else '-':>24}" for c in cols)
        lines.append(f"  {service:28}{cells}")
    return "\n".join(lines)


def differences(outcomes: list[Outcome]) -> list[str]:
    """Every remaining difference, by record: what a regression shows up as."""
    out = []
    for o in outcomes:
        if o.error is not None:
            out.append(f"{o.entry.name}: not replayed: {o.error}")
        for d in o.differences:
            out.append(f"{o.entry.name}: {d}")
    return out


def classes(outcomes: list[Outcome]) -> Counter[str]:
    """Differences grouped by field and service, for the summary."""
    c: Counter[str] = Counter()
    for o in outcomes:
        service = str(o.entry.record.get("eventSource", "?"))
        if o.error is not None:
            c[f"not replayed: {service}"] += 1
        for d in {(d.field, service) for d in o.differences}:
            c[f"{d[0]}: {d[1]}"] += 1
    return c
