# -*- test-case-name: xcomp.test.test_signals -*-
"""
C{python -m xcomp COMMAND}: commands for a running xcomp, apart from
C{twistd xcomp} that runs it.

  - C{reload}: make it re-read its configuration (L{xcomp.control}).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence, TextIO

__all__ = ["main"]


def _reload(args: argparse.Namespace, out: TextIO) -> int:
    from xcomp.control import CommandError, sendReload

    try:
        out.write(sendReload(args.config, args.pidfile) + "\n")
    except CommandError as e:
        sys.stderr.write(f"xcomp reload: {e}\n")
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    """
    The command line: one subcommand per command.
    """
    top = argparse.ArgumentParser(prog="python -m xcomp", description="Commands for a running xcomp.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    reload = commands.add_parser(
        "reload",
        help="make a running xcomp re-read its configuration",
        description="Send SIGHUP to a running xcomp: it reopens its log files and reloads its configuration.",
    )
    reload.add_argument("-c", "--config", help="the configuration file (its xcomp_pidfile names the process)")
    reload.add_argument("--pidfile", help="the pidfile twistd writes (twistd --pidfile=...)")
    reload.set_defaults(run=_reload)
    return top


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """
    Run a command; the exit status.
    """
    args = parser().parse_args(argv)
    return int(args.run(args, out))


if __name__ == "__main__":
    raise SystemExit(main())
