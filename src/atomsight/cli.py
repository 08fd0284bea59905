"""The ``atomsight`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__


def _inspect(args: argparse.Namespace) -> int:
    from .inspection import plot_store, summarize_store

    print(summarize_store(args.store))
    out = args.out or Path(args.store).with_suffix(".png")
    print(f"plot         {plot_store(args.store, out, count=args.count)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``atomsight`` command."""
    parser = argparse.ArgumentParser(
        prog="atomsight", description="Find and classify atoms in HRTEM images with a network trained on simulations."
    )
    parser.add_argument("--version", action="version", version=f"atomsight {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    inspect = commands.add_parser("inspect", help="summarise an exit-wave store and plot a few exit waves")
    inspect.add_argument("store", type=Path, help="a shard store, e.g. results/exitwaves/graphene/train/shard-000.zarr")
    inspect.add_argument("--out", type=Path, help="PNG to write (default: the store's path with .png)")
    inspect.add_argument("--count", type=int, default=4, help="structures to plot (default: 4)")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``atomsight`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"atomsight {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
