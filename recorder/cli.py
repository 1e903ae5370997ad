"""The ``recorder`` command: one entry point for every service and tool.

Each subcommand lives in the package that owns its concept and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this module only wires them, and
imports each lazily so that ``recorder route`` does not pay for aiokafka or aioboto3.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from recorder.settings import SettingsError

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "recorder.services.command",
        "run recorder services: router, writer, digester, api, all",
    ),
    "stack": ("recorder.stack.command", "start, stop or inspect the embedded local stack"),
    "topics": ("recorder.kafka.command", "create and check recorder's topics on the cluster"),
    "route": ("recorder.routing.command", "route CloudTrail records through trails' selectors"),
    "validate": (
        "recorder.integrity.command",
        "validate log files and digests, like validate-logs",
    ),
    "prove": (
        "recorder.integrity.prove",
        "an inclusion proof for a log file or digest, from its trail's Merkle log",
    ),
    "verify": (
        "recorder.integrity.verify",
        "check a proof offline, or audit a trail's Merkle log, with only its public key",
    ),
    "demo": ("recorder.demo", "make demo API calls with the producer hook installed"),
    "policy": (
        "recorder.api.policy",
        "print the bucket, topic or key policy that grants this deployment delivery",
    ),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recorder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Only import the module of the command being run (or all, for --help).
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if wanted is None or wanted == name:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                continue
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    run = getattr(args, "_run", None)
    if run is None:
        parser.error(f"command {args.command!r} is not available in this build")
    try:
        return int(run(args) or 0)
    except SettingsError as exc:  # every command: one line naming the variable, no traceback
        print(f"recorder: bad settings: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
