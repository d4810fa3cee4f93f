#!/usr/bin/env python3
"""
twistd on Twisted's asyncio reactor, with uvloop's event loop under it:
what ``bench/run --reactor uvloop`` starts xcomp with.

uvloop is not a dependency of xcomp; ``pip install uvloop`` to try this.
Twisted has no reactor name for it, so it is installed here, before twistd
would install its default.
"""

import sys

import uvloop
from twisted.internet import asyncioreactor

asyncioreactor.install(uvloop.new_event_loop())

from twisted.scripts.twistd import run  # noqa: E402  (after the reactor)

sys.argv[0] = "twistd"
run()
