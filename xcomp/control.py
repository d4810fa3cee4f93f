# -*- test-case-name: xcomp.test.test_signals -*-
"""
Controlling a running xcomp from the shell: C{python -m xcomp reload}
(L{sendReload}) finds the process by its pidfile and signals it.
"""

from __future__ import annotations

import errno
import os
import signal

__all__ = ["CommandError", "sendReload"]


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


def sendReload(config: str | None, pidfile: str | None) -> str:
    """
    Send C{SIGHUP} to the xcomp named by a pidfile (C{pidfile}, else the
    C{xcomp_pidfile} of the configuration file C{config}); it re-reads its
    configuration and reopens its log files.  A configuration with a
    mistake is not sent: the running xcomp would keep its own anyway.

    @return: The line to print.
    @raise CommandError: Nothing was sent.
    """
    if pidfile:
        if config:
            _configuredPidfile(config)
        path = pidfile
    elif config:
        path = _configuredPidfile(config)
    else:
        raise CommandError("give -c CONFIG (with xcomp_pidfile in it) or --pidfile PATH")
    pid = _pidFrom(path)
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as e:
        raise CommandError(f"process {pid}: {e.strerror}") from None
    return f"sent SIGHUP to xcomp (process {pid}): it reloads its configuration; its log says how it went"
