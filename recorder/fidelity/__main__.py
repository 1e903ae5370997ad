"""``python -m recorder.fidelity [CORPUS ...]``: replay records AWS wrote through the
hook and print how the hook's records match them, per field and per service.

Without a corpus argument it reads ``RECORDER_FIDELITY_CORPUS``, else
``shared/fidelity/corpus.jsonl`` beside the checkout. ``--differences`` lists every
difference by record; ``--classes`` counts them by field and event source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recorder.fidelity.report import (
    classes,
    corpus_path,
    differences,
    figures,
    load,
    run,
    table,
)
from recorder.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recorder.fidelity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("corpus", nargs="*", type=Path, help="JSON lines of {source, record}")
    parser.add_argument("--differences", action="store_true", help="list every difference")
    parser.add_argument("--classes", action="store_true", help="count differences by class")
    args = parser.parse_args(argv)
    paths = args.corpus or [corpus_path(Settings.from_env().fidelity_corpus)]
    for path in paths:
        if not path.is_file():
            parser.error(f"no corpus at {path} (give a path or set RECORDER_FIDELITY_CORPUS)")
    outcomes = run(e for p in paths for e in load(p))
    print(table(figures(outcomes)))
    if args.classes:
        print("\ndifferences by field and event source:")
        for name, n in classes(outcomes).most_common():
            print(f"{n:5} {name}")
    if args.differences:
        print("\n".join(["", "differences:", *differences(outcomes)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
