# -*- test-case-name: xcomp.test.test_s2s_ejabberd -*-
"""
The federation scenarios of issue 11 (L{xcomp.test.s2sscenarios}) with
Debian's ejabberd (23.01, L{xcomp.test.ejabberdpeer}) as a second real
remote server, skipped when it is not installed.

What ejabberd does differently from Prosody:

 - it finds xcomp's domains through SRV records only (the test's DNS
   server answers C{_xmpp-server._tcp} with xcomp's address, after
   NXDOMAIN for C{_xmpps-server._tcp}, which it asks first), where Prosody
   reads the hosts file (L{EjabberdScenarioTests.test_foundBySRV});
 - like Prosody it authenticates with SASL EXTERNAL when xcomp offers it;
   when xcomp does not trust its certificate (so offers no mechanism) it
   tries EXTERNAL all the same, fails ("Peer provided no SASL
   mechanisms") and retries with dialback on the same stream
   (C{mod_s2s_dialback}, which the peer loads), which is what xcomp sees;
 - refused by secure auth, it bounces the queued stanzas with an error
   and keeps bouncing for that domain for a few minutes (its
   C{s2s_out} back-off), which the tests do not wait for.
"""

from __future__ import annotations

from typing import cast

from twisted.names import dns
from twisted.trial.unittest import TestCase

from xcomp.test.ejabberdpeer import EjabberdPeer
from xcomp.test.s2sscenarios import BOT, DialbackScenarioTests, ScenarioTests, SecureAuthRefuses


class EjabberdScenarioTests(ScenarioTests, TestCase):
    """
    Remote users on ejabberd reach xcomp's components, and the components
    reach them; ejabberd authenticates with SASL EXTERNAL.
    """

    peerClass = EjabberdPeer

    async def test_foundBySRV(self) -> None:
        """
        ejabberd found xcomp's component domain through the test's DNS
        server: C{_xmpps-server} first (NXDOMAIN, which Erlang's
        C{inet_res} asks twice, as it is and with the empty search
        domain), then C{_xmpp-server}.  (The VM also asks it for its own
        host name's address at boot, through C{inet}, and is told
        NXDOMAIN: its only nameserver is the test's.)
        """
        await self.test_messageToComponent()
        server = cast(EjabberdPeer, self.remote).dns
        assert server is not None
        self.assertEqual(
            list(dict.fromkeys(q for q in server.questions if q[0].endswith(BOT))),
            [(f"_xmpps-server._tcp.{BOT}", dns.SRV), (f"_xmpp-server._tcp.{BOT}", dns.SRV)],
        )


class EjabberdDialbackTests(DialbackScenarioTests, TestCase):
    """
    xcomp does not trust ejabberd's CA and secure auth is off: ejabberd
    authenticates with dialback (C{mod_s2s_dialback}).
    """

    peerClass = EjabberdPeer


class EjabberdSecureAuthRefusesTests(SecureAuthRefuses, TestCase):
    """
    xcomp does not trust ejabberd's CA and requires secure auth:
    ejabberd's streams are refused.
    """

    peerClass = EjabberdPeer
