"""
Tests for L{xcomp.hosts}: what a VirtualHost answers.
"""

from __future__ import annotations

from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xcomp.hosts import NS_DISCO_INFO, NS_DISCO_ITEMS, LocalHost
from xcomp.router import Router
from xcomp.test.helpers import FakeRoute, errorCondition, stanza


class LocalHostTests(SynchronousTestCase):
    """
    Disco on a VirtualHost, and C{service-unavailable} for the rest.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.router = Router(
            self.clock,
            components={
                "gw.example.org": SimpleNamespace(name="IRC gateway", discoHidden=False),
                "bot.example.org": SimpleNamespace(name=None, discoHidden=False),
                "helper.example.org": SimpleNamespace(name="Helper", discoHidden=True),
            },
        )
        self.router.addHost("example.org", LocalHost("example.org", self.router, "Example"))
        self.gw = FakeRoute("gw.example.org")
        self.router.bind("gw.example.org", self.gw)

    def ask(self, xml: str) -> list:
        self.router.receive(self.gw, stanza(xml))
        self.assertEqual(self.gw.sent, [], "answered before the next reactor turn")
        self.clock.advance(0)
        return self.gw.sent

    def test_discoItemsListsComponents(self) -> None:
        """
        disco#items lists the components below the host by name, leaving out
        C{disco_hidden} ones, whether or not they are connected.
        """
        [reply] = self.ask(
            f"<iq type='get' id='i1' from='gw.example.org' to='example.org'>"
            f"<query xmlns='{NS_DISCO_ITEMS}'/></iq>"
        )
        self.assertEqual((reply.type, reply.id, reply.to), ("result", "i1", "gw.example.org"))
        query = next(reply.element().elements(NS_DISCO_ITEMS, "query"))
        self.assertEqual(
            [(i["jid"], i.getAttribute("name")) for i in query.elements(NS_DISCO_ITEMS, "item")],
            [("bot.example.org", None), ("gw.example.org", "IRC gateway")],
        )

    def test_discoInfoIdentity(self) -> None:
        """
        disco#info answers with a server identity named after the host's
        C{name}, and the disco features.
        """
        [reply] = self.ask(
            f"<iq type='get' id='i2' from='gw.example.org' to='example.org'>"
            f"<query xmlns='{NS_DISCO_INFO}'/></iq>"
        )
        query = next(reply.element().elements(NS_DISCO_INFO, "query"))
        [identity] = query.elements(NS_DISCO_INFO, "identity")
        self.assertEqual(
            (identity["category"], identity["type"], identity["name"]), ("server", "im", "Example")
        )
        self.assertEqual(
            sorted(f["var"] for f in query.elements(NS_DISCO_INFO, "feature")),
            [NS_DISCO_INFO, NS_DISCO_ITEMS],
        )

    def test_discoNodeNotFound(self) -> None:
        """
        A disco query for a node the host does not have gets C{item-not-found}.
        """
        [reply] = self.ask(
            f"<iq type='get' id='i3' from='gw.example.org' to='example.org'>"
            f"<query xmlns='{NS_DISCO_ITEMS}' node='x'/></iq>"
        )
        self.assertEqual(errorCondition(reply), ("cancel", "item-not-found"))

    def test_otherIqIsServiceUnavailable(self) -> None:
        """
        Any other iq to the host gets C{service-unavailable}.
        """
        [reply] = self.ask(
            "<iq type='get' id='v' from='gw.example.org' to='example.org'>"
            "<query xmlns='jabber:iq:version'/></iq>"
        )
        self.assertEqual(errorCondition(reply), ("cancel", "service-unavailable"))

    def test_stanzasToUsersAreServiceUnavailable(self) -> None:
        """
        xcomp serves no users: a message or iq to a user of a VirtualHost gets
        C{service-unavailable}.
        """
        replies = self.ask("<message from='u@gw.example.org' to='alice@example.org' id='m'/>")
        self.assertEqual(errorCondition(replies[0]), ("cancel", "service-unavailable"))
        self.assertEqual(replies[0].to, "u@gw.example.org")

    def test_resultsAndErrorsGetNothing(self) -> None:
        """
        An iq result or an error sent to the host is not answered.
        """
        self.assertEqual(self.ask("<iq type='result' id='r' from='gw.example.org' to='example.org'/>"), [])
        self.assertEqual(self.ask("<message type='error' from='gw.example.org' to='example.org'/>"), [])
