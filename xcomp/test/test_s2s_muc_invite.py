# -*- test-case-name: xcomp.test.test_s2s_muc_invite -*-
"""
Mediated invitations (XEP-0045 section 7.8.2) between users of a remote
server, through xcomp's C{muc} over s2s: the invitation leaves xcomp for
the remote server (Prosody, then ejabberd) and the decline comes back the
same way.
"""

from __future__ import annotations

from twisted.trial.unittest import TestCase

from xcomp.test.ejabberdpeer import EjabberdPeer
from xcomp.test.prosodypeer import ProsodyPeer, childText, tag
from xcomp.test.s2sscenarios import MUC, MUC_NS, Scenario

USER_NS = f"{MUC_NS}#user"


class _Invitations(Scenario):
    """
    alice and bob are users of the remote server.
    """

    async def test_inviteAndDeclineOverS2S(self) -> None:
        """
        alice, in a room she made, invites bob through the room; bob gets
        the invitation from the room with alice as its sender and the
        reason, and his decline reaches alice from the room (7.8.2).
        """
        room = f"room@{MUC}"
        await self.join(self.alice, "alice")
        self.alice.send(
            f"<iq type='set' id='c1' to='{room}'><query xmlns='{MUC_NS}#owner'>"
            "<x xmlns='jabber:x:data' type='submit'/></query></iq>"
        )
        configured = await self.alice.next(lambda s: tag(s) == "iq" and s.get("id") == "c1")
        self.assertEqual(configured.get("type"), "result")
        bare = self.bob.fullJID.partition("/")[0]
        self.alice.send(
            f"<message to='{room}' id='i1'><x xmlns='{USER_NS}'>"
            f"<invite to='{bare}'><reason>join us</reason></invite></x></message>"
        )
        invitation = await self.bob.next(
            lambda s: tag(s) == "message" and s.find(f"{{{USER_NS}}}x/{{{USER_NS}}}invite") is not None
        )
        self.assertEqual(invitation.get("from"), room)
        invite = invitation.find(f"{{{USER_NS}}}x/{{{USER_NS}}}invite")
        assert invite is not None
        self.assertEqual(invite.get("from", "").partition("/")[0], self.alice.fullJID.partition("/")[0])
        self.assertEqual(childText(invite, "reason"), "join us")

        self.bob.send(
            f"<message to='{room}' id='d1'><x xmlns='{USER_NS}'>"
            f"<decline to='{self.alice.fullJID.partition('/')[0]}'><reason>busy</reason></decline></x></message>"
        )
        decline = await self.alice.next(
            lambda s: tag(s) == "message" and s.find(f"{{{USER_NS}}}x/{{{USER_NS}}}decline") is not None
        )
        self.assertEqual(decline.get("from"), room)
        element = decline.find(f"{{{USER_NS}}}x/{{{USER_NS}}}decline")
        assert element is not None
        self.assertEqual(element.get("from", "").partition("/")[0], bare)
        self.assertEqual(childText(element, "reason"), "busy")


class RemoteInvitationTests(_Invitations, TestCase):
    """
    alice and bob are users of a remote Prosody.
    """

    peerClass = ProsodyPeer


class EjabberdInvitationTests(_Invitations, TestCase):
    """
    alice and bob are users of a remote ejabberd.
    """

    peerClass = EjabberdPeer
