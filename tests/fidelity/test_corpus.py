"""The fidelity tier: records AWS wrote, replayed through the real hooked client.

Each record of the corpus (``shared/fidelity/corpus.jsonl``: the example log entries
of AWS's service guides) is turned into the call it describes and made on a botocore
client with the hook installed, answered by ``Stubber`` with the record's response or
error (:mod:`recorder.fidelity`); the record the hook writes is compared with AWS's
field by field. The acceptance figures of issue 23 are asserted, and every difference
that remains is listed by record and field in ``known_differences.txt`` with the
reason it is left: a difference not listed is a regression and fails, one listed but
gone fails too (the list stays exact).

The corpus is data from elsewhere and is not in the repository: it is read where
``RECORDER_FIDELITY_CORPUS`` points, else beside the checkout; without it this module
skips. The named per-service tests (``test_documented.py``) keep their records in the
repository and always run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.fidelity.report import (
    Outcome,
    corpus_path,
    differences,
    figures,
    load,
    run,
    table,
)
from recorder.settings import Settings

CORPUS = corpus_path(Settings.from_env().fidelity_corpus)
KNOWN = Path(__file__).with_name("known_differences.txt")

pytestmark = pytest.mark.skipif(
    not CORPUS.is_file(),
    reason=f"no fidelity corpus at {CORPUS}: set RECORDER_FIDELITY_CORPUS to a "
    "corpus.jsonl of records AWS wrote (shared/fidelity/ beside the checkout)",
)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return run(load(CORPUS))


def differing(outcomes: list[Outcome]) -> set[tuple[str, str]]:
    """(record source, field) of every difference; ``not replayed`` for a record no
    botocore call could make."""
    out: set[tuple[str, str]] = set()
    for o in outcomes:
        if o.error is not None:
            out.add((o.entry.source, "not replayed"))
        out |= {(o.entry.source, d.field) for d in o.differences}
    return out


def known() -> dict[tuple[str, str], str]:
    """The listed differences and the reason given for each."""
    out: dict[tuple[str, str], str] = {}
    reason = ""
    for line in KNOWN.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            reason = line[3:].strip()
        elif line.strip() and not line.startswith("#"):
            source, field = line.rsplit("\t", 1)
            out[(source, field)] = reason
    return out


def test_the_hook_writes_what_aws_writes_on_the_corpus(outcomes: list[Outcome]) -> None:
    f = figures(outcomes)
    print("\n" + table(f))
    assert f.records == len(load(CORPUS))
    assert f.identity / f.records >= 0.95, "identity fields (eventSource, eventName, ...)"
    assert f.identity_and_request / f.records >= 0.85, "... and every requestParameters path"
    assert f.share("resources") >= 0.80, "resources, where AWS writes them"
    assert f.share("apiVersion") >= 0.80, "apiVersion, where AWS writes it"


def test_every_remaining_difference_is_listed_with_its_reason(outcomes: list[Outcome]) -> None:
    found, listed = differing(outcomes), known()
    print("\n".join(["", *differences(outcomes)]))
    new = sorted(found - listed.keys())
    assert not new, "differences not in known_differences.txt (a regression?):\n" + "\n".join(
        f"{s}\t{f}" for s, f in new
    )
    gone = sorted(listed.keys() - found)
    assert not gone, "fixed: remove from known_differences.txt:\n" + "\n".join(
        f"{s}\t{f}" for s, f in gone
    )
    assert all(listed.values()), "every listed difference has a reason"
