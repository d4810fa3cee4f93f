# -*- test-case-name: xcomp.test.test_wokkel -*-
"""
Import wokkel on current Twisted.

wokkel 18.0.0, its last release, imports two names that Twisted has since
removed: C{twisted.python.compat._PY3} and the module
C{twisted.python.constants} (now the C{constantly} package).  This module
restores exactly those two before wokkel is imported; import wokkel through
it, for example C{from xcomp._wokkel import disco}.  Nothing else is patched.
"""

from __future__ import annotations

import sys

import constantly
from twisted.python import compat

if not hasattr(compat, "_PY3"):
    compat._PY3 = True  # type: ignore[attr-defined]
sys.modules.setdefault("twisted.python.constants", constantly)

from wokkel import component, data_form, disco, generic, subprotocols  # noqa: E402

__all__ = ["component", "data_form", "disco", "generic", "subprotocols"]
