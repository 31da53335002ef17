"""`dataset-assets`: the command line. One module per subcommand, each with the same parts:

    HELP, DESCRIPTION, EXAMPLE   the one-line help, the --help text and its examples
    add_arguments(parser)        the command's own arguments (`--json` is added here, unless JSON = False)
    run(args) -> int             the exit status

    dataset-assets inspect|verify|ls|convert|diff|materialize ... [--json]

Errors of the library (a damaged artifact, a format that cannot hold the data, ...) end with their
message and exit status 2; `verify` and `diff` use 1 for "damaged" / "different", like diff(1).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..quiet import quiet_tensorflow

SUBCOMMANDS = ("inspect", "verify", "ls", "convert", "diff", "materialize")


def parser() -> argparse.ArgumentParser:
    from importlib import import_module

    p = argparse.ArgumentParser(
        prog="dataset-assets",
        description="Inspect, verify, list, convert and compare dataset artifacts; materialize the Dagster assets.",
        epilog="run `dataset-assets COMMAND --help` for a command's options and an example",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars (also: DATASET_ASSETS_PROGRESS=0)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        command = import_module(f"{__name__}.{name}")
        c = sub.add_parser(name, help=command.HELP, description=command.DESCRIPTION, epilog=command.EXAMPLE,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(c)
        if getattr(command, "JSON", True):
            c.add_argument("--json", action="store_true", help="print JSON instead of text")
        c.set_defaults(run=command.run)
    return p


def main(argv: list[str] | None = None) -> int:
    quiet_tensorflow()
    args = parser().parse_args(argv)
    if args.no_progress:
        from ..progress import PROGRESS_ENV

        os.environ[PROGRESS_ENV] = "0"
    from ..errors import DatasetAssetsError
    from ..progress import log_to_stderr

    log_to_stderr()
    try:
        return args.run(args)
    except DatasetAssetsError as e:
        print(f"dataset-assets {args.command}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `dataset-assets ls | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
