#!/usr/bin/env python3
"""
How long a reload holds the reactor, in process: a configuration of N
external components is read (as SIGHUP reads it), then one component is
added and the difference applied (L{xcomp.service.RouterService.reload}).
Both run on the reactor's thread, so while they do nothing is routed (the
stanzas wait in the sockets; none is lost).

    python3 bench/reload_time.py [--components 1000,10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from twisted.internet.testing import MemoryReactorClock

from xcomp.config import loadConfig
from xcomp.service import RouterService


def measure(count: int, repeat: int, directory: str) -> tuple[float, float]:
    """
    The best time, in seconds, to read the file of C{count} components,
    and to apply a reload that adds one.
    """
    text = "component_ports = { 5347 }\n" + "".join(
        f'Component "c{n}.example"\n  component_secret = "s{n}"\n' for n in range(count)
    )
    path = os.path.join(directory, f"{count}.cfg.lua")
    with open(path, "w") as f:
        f.write(text)
    reads, applies = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        config = loadConfig(path)
        reads.append(time.perf_counter() - started)
    service = RouterService(config, reactor=MemoryReactorClock())
    # The same file, one component longer, as an admin edits it.
    with open(path, "a") as f:
        f.write('Component "extra.example"\n  component_secret = "x"\n')
    new = loadConfig(path)
    for _ in range(repeat):
        started = time.perf_counter()
        service.reload(lambda: new)
        applies.append(time.perf_counter() - started)
        service.reload(lambda: config)
    return min(reads), min(applies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--components", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for count in (int(n) for n in arguments.components.split(",")):
            read, apply = measure(count, arguments.repeat, directory)
            print(
                f"{count:>6} components: read the file {read * 1000:7.1f} ms, "
                f"apply the difference {apply * 1000:6.1f} ms (best of {arguments.repeat})"
            )


if __name__ == "__main__":
    main()
