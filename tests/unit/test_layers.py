"""Imports point one way: each package of ``recorder`` imports only packages of lower
layers (docs/design-notes.md, "Layers"). Read from the source with ``ast``, function-
local imports included, so that a cycle hidden inside a function fails here too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "recorder"

#: Bottom to top. A package may import its own modules and any package of a lower
#: layer; packages of one layer are siblings and do not import each other.
LAYERS: tuple[frozenset[str], ...] = (
    # how AWS spells things (ARNs, times, prefixed keys): what every layer above shares
    frozenset({"aws"}),
    # pure models and rules, no I/O of their own
    frozenset({"events", "trails", "policies", "obs", "retry"}),
    # who may write what: producer keys, signatures, the admission of a record
    frozenset({"provenance"}),
    frozenset({"settings"}),
    # clients of the outside world, each for one concern
    frozenset({"kafka", "selectors", "producer"}),
    # the stages that move bytes
    frozenset({"routing", "delivery", "integrity", "insights", "aggregation"}),
    frozenset({"api"}),
    frozenset({"services"}),
    # entry points: `recorder` subcommands, the CLI that loads them (by name, lazily)
    frozenset({"stack", "demo", "fidelity", "cli"}),
    frozenset({"__main__"}),
)
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _package(path: Path) -> str:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else path.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported top-level recorder package) of every import in ``path``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "recorder":
                names = [f"recorder.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found += [(node.lineno, n.split(".")[1]) for n in names if n.startswith("recorder.")]
    return found


def _violations() -> list[str]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        here = _package(path)
        for line, there in _imports(path):
            if there == here:
                continue
            if LAYER_OF[there] >= LAYER_OF[here]:
                out.append(
                    f"{path.relative_to(ROOT.parent)}:{line}: {here} (layer {LAYER_OF[here]}) "
                    f"imports {there} (layer {LAYER_OF[there]})"
                )
    return out


def test_every_package_has_a_layer() -> None:
    packages = {_package(p) for p in ROOT.rglob("*.py")} - {"__init__"}
    assert packages - LAYER_OF.keys() == set(), "add new packages to LAYERS"


def test_imports_point_downward() -> None:
    assert _violations() == []


def test_the_check_catches_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker itself can fail: an events module importing the router is reported."""
    fake = tmp_path / "recorder"
    (fake / "events").mkdir(parents=True)
    (fake / "routing").mkdir()
    (fake / "events" / "bad.py").write_text(
        "def f():\n    from recorder.routing.service import Router\n"
    )
    (fake / "routing" / "ok.py").write_text("from recorder.events import decode\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake)
    assert _violations() == ["recorder/events/bad.py:2: events (layer 1) imports routing (layer 5)"]
