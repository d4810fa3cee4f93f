# -*- test-case-name: xcomp.test.test_s2s_prosody -*-
"""
The federation scenarios of issue 11 (L{xcomp.test.s2sscenarios}) with a
real Prosody (Debian's 0.12, L{xcomp.test.prosodypeer}) as the remote
server.

Prosody authenticates its streams to xcomp with SASL EXTERNAL when xcomp
trusts its certificate, and with dialback otherwise.
"""

from __future__ import annotations

from twisted.trial.unittest import TestCase

from xcomp.test.prosodypeer import ProsodyPeer
from xcomp.test.s2sscenarios import DialbackScenarioTests, ScenarioTests, SecureAuthRefuses


class ProsodyScenarioTests(ScenarioTests, TestCase):
    """
    Remote users on Prosody reach xcomp's components, and the components
    reach them; Prosody authenticates with SASL EXTERNAL.
    """

    peerClass = ProsodyPeer


class DialbackTests(DialbackScenarioTests, TestCase):
    """
    xcomp does not trust Prosody's CA and secure auth is off: Prosody
    authenticates with dialback, and everything works as before.
    """

    peerClass = ProsodyPeer


class SecureAuthRefusesTests(SecureAuthRefuses, TestCase):
    """
    xcomp does not trust Prosody's CA and requires secure auth: Prosody's
    streams are refused.
    """

    peerClass = ProsodyPeer
