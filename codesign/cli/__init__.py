"""The `codesign` command: parsing, and one call into the library per command.

Commands live in `cli/runs.py` (train, demo, emulate, generate), `cli/hardware.py` (targets,
estimate, calibration), `cli/study.py` (search, report, export) and `cli/dqm.py`. Each imports
the library it calls when it runs, so `codesign --help` stays instant. User mistakes surface as
one line on stderr and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from codesign import __version__, runtime
from codesign import arguments as arg
from codesign.cli import dqm, hardware, runs, study
from codesign.cli.common import resolve_config
from codesign.errors import CodesignError

__all__ = ["build_parser", "main", "resolve_config"]


def build_parser() -> argparse.ArgumentParser:
    parser = arg.Parser(
        prog="codesign",
        description="Hardware co-design of real-time anomaly detection for particle-physics triggers.")
    parser.add_argument("--version", action="version", version=f"codesign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (and Keras epochs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runs.add(sub)
    hardware.add(sub)
    study.add(sub)
    dqm.add(sub)
    runs.add_generate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if getattr(args, "debug", False):
        args.verbose = True
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        runtime.quiet_libraries()
    runtime.catch_interrupts()
    try:
        status = args.func(args)
        runtime.check_interrupt()  # a Ctrl-C that a library swallowed still ends the command as interrupted
        return status
    except CodesignError as exc:
        print(f"codesign: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("codesign: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`codesign targets | head`): stop quietly, as a shell tool does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141


if __name__ == "__main__":
    sys.exit(main())
