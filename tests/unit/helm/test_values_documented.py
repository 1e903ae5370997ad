"""helm/recorder/README.md documents every value of values.yaml, with its default."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from tests.unit.helm.conftest import CHART

ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| `(?P<default>[^`]*)` \| (?P<description>.+) \|$")


def leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted paths of every scalar, list or empty map in values.yaml."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, node


def shown(value: Any) -> str:
    """How the README's Default column writes a value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def values() -> dict[str, Any]:
    return dict(leaves(yaml.safe_load((CHART / "values.yaml").read_text())))


def documented() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (CHART / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            assert match["key"] not in rows, f"{match['key']} is documented twice"
            rows[match["key"]] = (match["default"], match["description"])
    return rows


def test_every_value_is_documented() -> None:
    missing = sorted(set(values()) - set(documented()))
    assert not missing, f"values.yaml keys missing from helm/recorder/README.md: {missing}"


def test_readme_documents_no_value_that_does_not_exist() -> None:
    stale = sorted(set(documented()) - set(values()))
    assert not stale, f"README.md documents keys values.yaml does not have: {stale}"


def test_readme_defaults_match_values_yaml() -> None:
    rows = documented()
    wrong = {
        key: (rows[key][0], shown(value))
        for key, value in values().items()
        if key in rows and rows[key][0] != shown(value)
    }
    assert not wrong, f"README default != values.yaml default: {wrong}"


def test_every_value_has_a_description() -> None:
    for key, (_, description) in documented().items():
        assert len(description.strip()) > 10, key


def test_values_yaml_annotates_every_value() -> None:
    # `## @param key description` above each value keeps values.yaml self-describing.
    params = set(re.findall(r"## @param (\S+) ", (CHART / "values.yaml").read_text()))
    assert params == set(values())
