# -*- test-case-name: xcomp.test.test_signals -*-
"""
C{python -m xcomp COMMAND}: commands for a running xcomp, apart from
C{twistd xcomp} that runs it.

  - C{reload}: make it re-read its configuration (L{xcomp.control}).
  - C{status}: print what its status page shows (L{xcomp.statuscmd}).
"""

from __future__ import annotations

import argparse
import json
import os
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


def _status(args: argparse.Namespace, out: TextIO) -> int:
    from xcomp.control import CommandError
    from xcomp.http.page import renderText
    from xcomp.statuscmd import NOT_RUNNING, NotRunning, fetchStatus, statusURL

    try:
        if args.url:
            url, token = args.url, None
        elif args.config:
            url, token = statusURL(args.config)
        else:
            raise CommandError("give -c CONFIG (with the status page enabled) or --url URL")
        token = args.token or os.environ.get("XCOMP_HTTP_TOKEN") or token
        status = fetchStatus(url, token)
        out.write(json.dumps(status, indent=1, sort_keys=True) + "\n" if args.json else renderText(status))
    except NotRunning as e:
        sys.stderr.write(f"xcomp status: {e}\n")
        return NOT_RUNNING
    except CommandError as e:
        sys.stderr.write(f"xcomp status: {e}\n")
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
    status = commands.add_parser(
        "status",
        help="print what a running xcomp's status page shows",
        description=(
            "Read status.json from a running xcomp's HTTP port and print it. "
            "Exit status 0 when it answers, 3 when nothing does, 1 for any other problem."
        ),
    )
    status.add_argument("-c", "--config", help="the configuration file (it names the status page's port and token)")
    status.add_argument("--url", help="the status.json URL, instead of the configuration's")
    status.add_argument(
        "--token", help="the HTTP token (default: $XCOMP_HTTP_TOKEN, else the configuration's)"
    )
    status.add_argument("--json", action="store_true", help="print the JSON as it is")
    status.set_defaults(run=_status)
    return top


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """
    Run a command; the exit status.
    """
    args = parser().parse_args(argv)
    return int(args.run(args, out))


if __name__ == "__main__":
    raise SystemExit(main())
