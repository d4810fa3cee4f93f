# -*- test-case-name: xcomp.test.test_signals -*-
"""
C{python -m xcomp COMMAND}: commands for a running xcomp, as C{prosodyctl}
has them for Prosody.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from typing import Sequence

__all__ = ["main"]


class CommandError(Exception):
    """
    The command cannot do what it was asked; C{str()} is the one line to
    print.
    """


def _pidFrom(path: str) -> int:
    """
    The PID in C{path}, of a process that runs.

    @raise CommandError: No such file, no PID in it, or a stale one.
    """
    try:
        with open(path, "rb") as f:
            text = f.read().strip()
    except FileNotFoundError:
        raise CommandError(f"{path}: no such pidfile; is xcomp running?") from None
    except OSError as e:
        raise CommandError(f"{path}: {e.strerror}") from None
    try:
        pid = int(text)
    except ValueError:
        pid = 0
    if pid <= 0:
        raise CommandError(f"{path}: no PID in it")
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno == errno.ESRCH:
            raise CommandError(f"{path}: stale pidfile: process {pid} does not run") from None
        if e.errno != errno.EPERM:
            raise CommandError(f"{path}: process {pid}: {e.strerror}") from None
    return pid


def _configuredPidfile(config: str) -> str:
    """
    The C{xcomp_pidfile} of the configuration file C{config}.

    @raise CommandError: The file has a mistake, or sets no pidfile.
    """
    from xcomp.config import ConfigError, loadConfig
    from xcomp.plugin import installedModules, installedPlugins

    try:
        loaded = loadConfig(config, plugins=installedPlugins(), modules=installedModules())
    except ConfigError as e:
        raise CommandError(str(e)) from None
    if loaded.pidfile is None:
        raise CommandError(
            f"{config}: sets no xcomp_pidfile; give the one twistd writes with --pidfile"
        )
    return loaded.pidfile


def reload(arguments: argparse.Namespace) -> str:
    """
    C{reload}: send C{SIGHUP} to the xcomp named by a pidfile (C{--pidfile},
    else the configuration's C{xcomp_pidfile}); it re-reads its
    configuration and reopens its log files.  A configuration with a
    mistake is not sent: the running xcomp would keep its own anyway.

    @return: The line to print.
    @raise CommandError: Nothing was sent.
    """
    if arguments.pidfile:
        if arguments.config:
            _configuredPidfile(arguments.config)
        path = arguments.pidfile
    elif arguments.config:
        path = _configuredPidfile(arguments.config)
    else:
        raise CommandError("reload: give -c CONFIG (with xcomp_pidfile in it) or --pidfile PATH")
    pid = _pidFrom(path)
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as e:
        raise CommandError(f"process {pid}: {e.strerror}") from None
    return f"sent SIGHUP to xcomp (process {pid}): it reloads its configuration; its log says how it went"


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run one command; print its line (errors on standard error, with exit
    status 1).
    """
    parser = argparse.ArgumentParser(prog="python -m xcomp")
    commands = parser.add_subparsers(dest="command", required=True)
    reloadParser = commands.add_parser("reload", help="make a running xcomp re-read its configuration")
    reloadParser.add_argument("-c", "--config", help="the configuration file (its xcomp_pidfile names the process)")
    reloadParser.add_argument("--pidfile", help="the pidfile twistd writes (twistd --pidfile=...)")
    reloadParser.set_defaults(run=reload)
    arguments = parser.parse_args(argv)
    try:
        print(arguments.run(arguments))
    except CommandError as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
