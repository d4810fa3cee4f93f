# -*- test-case-name: xcomp.test.test_muc_mam,xcomp.test.test_muc_mam_query,xcomp.test.test_muc_mam_refill -*-
"""
What the tests of the C{muc_mam} module share: the service, the room and
its users' addresses, builders for XEP-0313 forms and XEP-0059 sets, a
reader for the end of a query, and L{MAMTestCase}, an archived room with
two occupants over the in-memory router of L{xcomp.testing}.
"""

from __future__ import annotations

from typing import Mapping

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.muc.mam import NS_MAM
from xcomp.testing import ComponentHarness
from xcomp.test.muchelpers import codes

MUC = "conference.example.org"
ROOM = f"room@{MUC}"
ALICE = "alice@example.org/a"
BOB = "bob@example.org/b"
NS_MUC = "http://jabber.org/protocol/muc"
NS_OWNER = NS_MUC + "#owner"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"



def form(**fields: str | list[str]) -> str:
    """
    A submitted urn:xmpp:mam:2 form.
    """
    body = f"<field var='FORM_TYPE' type='hidden'><value>{NS_MAM}</value></field>"
    for var, value in fields.items():
        values = value if isinstance(value, list) else [value]
        body += f"<field var='{var.replace('_', '-')}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
    return f"<x xmlns='jabber:x:data' type='submit'>{body}</x>"


def rsm(max: int | None = None, after: str | None = None, before: str | None = None) -> str:
    """
    A XEP-0059 C{set}; an empty C{before} asks for the last page.
    """
    parts = []
    if max is not None:
        parts.append(f"<max>{max}</max>")
    if after is not None:
        parts.append(f"<after>{after}</after>")
    if before is not None:
        parts.append(f"<before>{before}</before>" if before else "<before/>")
    return f"<set xmlns='{NS_RSM}'>{''.join(parts)}</set>"


class MAMTestCase(SynchronousTestCase):
    """
    A C{muc} component with C{muc_mam}, configured with L{options}, and an
    instant room in it where Alice (the owner) and Bob are.

    @cvar options: the component's options.
    """

    options: Mapping[str, object] = {}

    def setUp(self) -> None:
        """
        Start the component; Alice creates the room, Bob joins, and what
        they were sent is discarded.
        """
        self.harness = ComponentHarness.forPlugin("muc", MUC, self.options, ["muc_mam"])
        self.harness.start()
        self.addCleanup(self.harness.stop)
        self.users = self.harness.external("example.org")
        self.harness.advance(1_000_000)
        self.users.send(f"<presence from='{ALICE}' to='{ROOM}/alice'><x xmlns='{NS_MUC}'/></presence>")
        self.users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'/></query></iq>"
        )
        self.users.send(f"<presence from='{BOB}' to='{ROOM}/bob'/>")
        self.users.take()

    def say(self, *bodies: str, sender: str = ALICE) -> list[str | None]:
        """
        Send groupchat messages (one second apart); return their stanza ids
        (C{None} for a message that got none).
        """
        ids = []
        for body in bodies:
            self.harness.advance(1)
            self.users.send(f"<message type='groupchat' from='{sender}' to='{ROOM}'><body>{body}</body></message>")
            [echo] = self.users.take(lambda e: e.getAttribute("to") == sender)
            self.users.take()
            marker = next(echo.elements(NS_SID, "stanza-id"), None)
            ids.append(None if marker is None else marker["id"])
        return ids

    def query(self, payload: str = "", sender: str = BOB, queryId: str = "q1") -> tuple[list[str], domish.Element]:
        """
        Query the room's archive: the bodies of the results, and the iq
        that ends the query.
        """
        self.users.send(
            f"<iq type='set' id='mam' from='{sender}' to='{ROOM}'>"
            f"<query xmlns='{NS_MAM}' queryid='{queryId}'>{payload}</query></iq>"
        )
        received = self.users.take(lambda e: e.getAttribute("to") == sender)
        *results, reply = received
        bodies = []
        for message in results:
            result = next(message.elements(NS_MAM, "result"))
            self.assertEqual(result["queryid"], queryId)
            forwarded = next(result.elements("urn:xmpp:forward:0", "forwarded"))
            original = next(forwarded.elements("jabber:client", "message"))
            bodies.append(str(next(original.elements("jabber:client", "body"))))
        return bodies, reply


def fin(reply: domish.Element) -> tuple[bool, list[str], str]:
    """
    (complete, [first, last], count) of a query's end.
    """
    end = next(reply.elements(NS_MAM, "fin"))
    page = next(end.elements(NS_RSM, "set"))
    bounds = [str(e) for e in page.elements() if e.name in ("first", "last")]
    return end.getAttribute("complete") == "true", bounds, str(next(page.elements(NS_RSM, "count")))
