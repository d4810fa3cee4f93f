# -*- test-case-name: xcomp.test.test_s2s_ejabberd -*-
"""
How to find and start Debian's ejabberd without the Erlang distribution:
the standard library only, so that C{bench/servers.py} can use it from a
plain C{python3} that has neither Twisted nor xcomp's dependencies.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from typing import Sequence

__all__ = ["NOT_INSTALLED", "ejabberdCommand", "ejabberdLib", "ejabberdVersion"]

#: Why the ejabberd tests are skipped when it is missing.
NOT_INSTALLED = "ejabberd is not installed: apt-get install ejabberd"


def ejabberdLib() -> tuple[str, str] | None:
    """
    Where an installed ejabberd's Erlang application is: (the directory
    for C{ERL_LIBS}, the version in its name), or L{None}.
    """
    for ebin in sorted(glob.glob("/usr/lib/*/ejabberd-*/ebin/ejabberd.beam")):
        application = os.path.dirname(os.path.dirname(ebin))
        found = re.match(r"ejabberd-(\d[\w.]*)$", os.path.basename(application))
        if found:
            return os.path.dirname(application), found.group(1)
    return None


def ejabberdVersion() -> str | None:
    """
    The version of Debian's ejabberd package (C{dpkg-query}), else that of
    the installed application, else L{None}.
    """
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "ejabberd"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    lib = ejabberdLib()
    return lib[1] if lib else None


def ejabberdCommand(
    config: str,
    directory: str,
    *,
    log: str,
    maxPorts: int | None = None,
    inetrc: str | None = None,
    boot: Sequence[str] = ("-s", "ejabberd"),
) -> list[str]:
    """
    What C{ejabberdctl foreground} runs, as the current user and without
    the Erlang distribution (no node name, so no epmd): env(1) and erl(1)
    both exec, so the PID of this command is beam.smp's.  The VM flags are
    ejabberdctl's defaults.  bench/servers.py starts ejabberd with it too.

    @param config: The YAML file (ejabberd wants the C{.yml} suffix).
    @param directory: For the Mnesia database (C{data/}) and crash dumps.
    @param log: ejabberd's log file.
    @param maxPorts: C{ERL_MAX_PORTS}, if not the VM's default.
    @param inetrc: C{ERL_INETRC}: the VM's resolver configuration.
    @param boot: How the application is started: C{-s ejabberd}, or an
        C{-eval} that does more.
    @raise LookupError: ejabberd is not installed.
    """
    lib = ejabberdLib()
    if lib is None or shutil.which("erl") is None:
        raise LookupError(NOT_INSTALLED)
    environment = [
        f"EJABBERD_CONFIG_PATH={config}",
        f"EJABBERD_LOG_PATH={log}",
        f"ERL_CRASH_DUMP={os.path.join(directory, 'erl_crash.dump')}",
        f"ERL_LIBS={lib[0]}",
    ]
    if maxPorts is not None:
        environment.append(f"ERL_MAX_PORTS={maxPorts}")
    if inetrc is not None:
        environment.append(f"ERL_INETRC={inetrc}")
    return [
        "/usr/bin/env",
        *environment,
        "ERL_MAX_ETS_TABLES=1400",
        "erl", "-noinput", "-noshell", "+K", "true", "+P", "250000",
        "-env", "ERL_CRASH_DUMP_BYTES", "0",
        "-mnesia", "dir", f'"{os.path.join(directory, "data")}"',
        *boot,
    ]
