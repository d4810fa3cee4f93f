"""
Tests for L{xcomp._wokkel}.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase


class ShimTests(SynchronousTestCase):
    """
    The shim is needed, and enough.
    """

    def test_stillNeeded(self) -> None:
        """
        Without the shim, wokkel's data forms and MUC modules do not import on
        the installed Twisted.  When this fails, wokkel or Twisted has fixed
        it: delete L{xcomp._wokkel} and import wokkel directly.
        """
        for module in ("wokkel.data_form", "wokkel.muc"):
            result = subprocess.run(
                [sys.executable, "-c", f"import {module}"],
                capture_output=True,
                timeout=60,
            )
            self.assertNotEqual(result.returncode, 0, f"{module} imports without the shim now")
            self.assertRegex(result.stderr, rb"(ImportError|ModuleNotFoundError)")

    def test_shimImportsWokkel(self) -> None:
        """
        Through the shim, the wokkel modules xcomp uses import and work.
        """
        from xcomp._wokkel import data_form, disco

        form = data_form.Form("submit", formNamespace="urn:example")
        self.assertEqual(form.toElement()["type"], "submit")
        self.assertEqual(disco.DiscoIdentity("server", "im").category, "server")
        import wokkel.muc  # noqa: F401  (imports twisted.python.constants)
