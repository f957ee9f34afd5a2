"""``jaxmlp data``: list the named data sets and where they are; download MNIST or Fashion-MNIST."""

from __future__ import annotations

import argparse

from jaxmlp.cli.common import add_command

__all__ = ["add", "run"]


def add(commands) -> None:
    """The ``data`` parser (with its ``download`` action)."""
    from jaxmlp.cli.common import Formatter, Parser
    from jaxmlp.data.fetch import MIRRORS

    p = add_command(commands, "data", "list the data sets and where they are; download them",
                    "List the named data sets and where each was found, or how to get it. 'jaxmlp "
                    "data download NAME' fetches MNIST or Fashion-MNIST.")
    p.add_argument("--dir", metavar="DIR", help="a folder searched first (as --data-dir of train)")
    p.add_argument("-v", "--verbose", action="store_true", help="show every place searched")
    actions = p.add_subparsers(title="actions", dest="action", metavar="ACTION",
                               parser_class=Parser)
    download = actions.add_parser("download", help="download a data set's four IDX files",
                                  formatter_class=Formatter,
                                  description="Download the four gz files, each checked by "
                                              "SHA-256.")
    download.add_argument("name", choices=tuple(MIRRORS))
    download.add_argument("--dir", dest="download_dir", metavar="DIR",
                          help="put the files in DIR/NAME (default: $JAXMLP_DATA, else "
                               "~/.cache/jaxmlp)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List the data sets (or download one); return 0."""
    from jaxmlp.data import DATASETS, PLAYGROUND_DATASETS, download, locate

    if args.action == "download":
        print(f"downloading {args.name} ...", flush=True)
        folder = download(args.name, args.download_dir or args.dir)
        print(f"{args.name}: the four IDX files are in {folder}")
        return 0
    print("Data sets for 'jaxmlp train --dataset NAME':")
    for name, description in DATASETS.items():
        found, searched = locate(name, args.dir)
        if found:
            where = f"found: {found}"
        else:
            where = f"not found; get it with: jaxmlp data download {name}"
        print(f"  {name:<14} {where}\n  {'':<14} {description}")
        if args.verbose:
            print("\n".join(f"  {'':<16}{line}" for line in searched))
    print("Data sets for 'jaxmlp playground --dataset NAME' (generated, nothing to download):")
    for name, (problem, description) in PLAYGROUND_DATASETS.items():
        print(f"  {name:<14} {problem:<15} {description}")
    return 0
