"""
Tests for L{xcomp_ping.component}, with xcomp's harness for plugin authors.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.testing import ComponentHarness, errorOf
from xcomp_ping.component import NS_PING

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


class PingComponentTests(SynchronousTestCase):
    """
    The ping component on an in-memory router.
    """

    def setUp(self) -> None:
        self.harness = ComponentHarness.forPlugin("ping", "ping.example.org", {"name": "Pinger"})
        self.harness.start()
        self.addCleanup(self.harness.stop)
        self.user = self.harness.external("users.example.org")

    def test_pingAnswered(self) -> None:
        """
        A ping gets an empty result from the component.
        """
        self.user.send(
            "<iq type='get' id='p1' to='ping.example.org' from='alice@users.example.org/phone'>"
            f"<ping xmlns='{NS_PING}'/></iq>"
        )
        [reply] = self.user.take()
        self.assertEqual(
            (reply["type"], reply["id"], reply["from"], reply["to"]),
            ("result", "p1", "ping.example.org", "alice@users.example.org/phone"),
        )

    def test_discoIdentity(self) -> None:
        """
        disco#info shows the configured name, and the disco#info and ping features.
        """
        self.user.send(
            "<iq type='get' id='d1' to='ping.example.org' from='alice@users.example.org/phone'>"
            f"<query xmlns='{NS_DISCO_INFO}'/></iq>"
        )
        [reply] = self.user.take()
        query = next(reply.elements(NS_DISCO_INFO, "query"))
        [identity] = query.elements(NS_DISCO_INFO, "identity")
        self.assertEqual(identity["name"], "Pinger")
        features = [f["var"] for f in query.elements(NS_DISCO_INFO, "feature")]
        self.assertIn(NS_PING, features)
        self.assertIn(NS_DISCO_INFO, features)

    def test_otherIqRefused(self) -> None:
        """
        Anything else is answered with service-unavailable.
        """
        self.user.send(
            "<iq type='get' id='v1' to='ping.example.org' from='alice@users.example.org/phone'>"
            "<query xmlns='jabber:iq:version'/></iq>"
        )
        [reply] = self.user.take()
        self.assertEqual(errorOf(reply), ("cancel", "service-unavailable"))


class PongIntervalTests(SynchronousTestCase):
    """
    The declared C{pong_interval} option, converted by xcomp.
    """

    def test_delayed(self) -> None:
        """
        With C{pong_interval = "1.5"} (a string, converted to a number) the
        result comes 1.5 seconds after the ping.
        """
        harness = ComponentHarness.forPlugin("ping", "ping.example.org", {"pong_interval": "1.5"})
        harness.start()
        self.addCleanup(harness.stop)
        user = harness.external("users.example.org")
        user.send(
            "<iq type='get' id='p1' to='ping.example.org' from='alice@users.example.org/phone'>"
            f"<ping xmlns='{NS_PING}'/></iq>"
        )
        self.assertEqual(user.take(), [])
        harness.advance(1.4)
        self.assertEqual(user.take(), [])
        harness.advance(0.1)
        [reply] = user.take()
        self.assertEqual(reply["type"], "result")

    def test_refused(self) -> None:
        """
        A value out of the declared bounds is refused, naming the option.
        """
        error = self.assertRaises(
            ValueError, ComponentHarness.forPlugin, "ping", "ping.example.org", {"pong_interval": 100}
        )
        self.assertEqual(str(error), "pong_interval: 100 is not a number from 0 to 60")
