"""
Tests for L{xcomp.muc.roominfo}: the extended C{muc#roominfo} form
(XEP-0045 section 6.4: occupants, description, subject, language, avatar
hash) and room vCard avatars (XEP-0486, XEP-0153 hashes), through the
component and the in-memory router.
"""

from __future__ import annotations

import base64
import hashlib

from twisted.words.xish import domish

from xcomp.muc.roominfo import MAX_VCARD, NS_VCARD, NS_VCARD_UPDATE
from xcomp.test.test_muc import MUC, NS_DISCO_INFO, NS_OWNER, ROOM, MUCTestCase
from xcomp.testing import errorOf

ALICE = "alice@example.org/a"
BOB = "bob@example.org/b"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
HASH = hashlib.sha1(IMAGE).hexdigest()


def vcard(image: bytes | str = IMAGE) -> str:
    binval = image if isinstance(image, str) else base64.b64encode(image).decode()
    return f"<vCard xmlns='{NS_VCARD}'><PHOTO><TYPE>image/png</TYPE><BINVAL>{binval}</BINVAL></PHOTO></vCard>"


class RoomInfoTests(MUCTestCase):
    """
    alice owns the room, bob is in it.
    """

    def setUp(self) -> None:
        super().setUp()
        self.instantRoom(ALICE)
        self.join(BOB, "bob")
        self.users.take()

    def roominfo(self) -> dict[str, list[str]]:
        reply = self.iq(BOB, "get", ROOM, f"<query xmlns='{NS_DISCO_INFO}'/>")
        x = next(next(reply.elements(NS_DISCO_INFO, "query")).elements("jabber:x:data", "x"))
        return {
            f["var"]: [str(v) for v in f.elements("jabber:x:data", "value")]
            for f in x.elements("jabber:x:data", "field")
        }

    def configure(self, fields: str) -> domish.Element:
        return self.iq(ALICE, "set", ROOM, f"<query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>{fields}</x></query>")

    def test_extendedInfo(self) -> None:
        """
        The roominfo form has the occupant count, description, subject and
        language (XEP-0045 section 6.4, example 10).
        """
        self.configure(
            "<field var='muc#roomconfig_roomdesc'><value>All about tea</value></field>"
            "<field var='muc#roomconfig_lang'><value>en-GB</value></field>"
        )
        self.users.send(f"<message type='groupchat' from='{ALICE}' to='{ROOM}'><subject>Oolong</subject></message>")
        info = self.roominfo()
        self.assertEqual(info["FORM_TYPE"], ["http://jabber.org/protocol/muc#roominfo"])
        self.assertEqual(info["muc#roominfo_occupants"], ["2"])
        self.assertEqual(info["muc#roominfo_description"], ["All about tea"])
        self.assertEqual(info["muc#roominfo_subject"], ["Oolong"])
        self.assertEqual(info["muc#roominfo_lang"], ["en-GB"])
        self.assertNotIn("muc#roominfo_avatarhash", info)

    def test_badLanguage(self) -> None:
        """
        A language that is not a tag is not-acceptable, as other bad values
        of the form.
        """
        reply = self.configure("<field var='muc#roomconfig_lang'><value>en GB!</value></field>")
        self.assertEqual(errorOf(reply), ("modify", "not-acceptable"))

    def test_unknownConfigField(self) -> None:
        """
        A configuration form with a field the room does not know is
        applied, the field ignored, as Prosody's C{util.dataforms} does.
        """
        reply = self.configure(
            "<field var='muc#roomconfig_roomname'><value>Tea</value></field>"
            "<field var='x-unknown#field'><value>1</value></field>"
        )
        self.assertEqual(reply["type"], "result")
        self.assertEqual(self.component.rooms[ROOM].config.name, "Tea")

    def test_avatar(self) -> None:
        """
        An owner sets the room's vCard with a photo (XEP-0486 section 3.1):
        every occupant gets a presence from the room's bare JID with its
        SHA-1 (XEP-0153); anyone reads the vCard back; disco's roominfo has
        C{muc#roominfo_avatarhash}; a newcomer gets the hash on joining.
        """
        reply = self.iq(ALICE, "set", ROOM, vcard())
        self.assertEqual(reply["type"], "result")
        updates = [e for e in self.users.take() if e.name == "presence"]
        self.assertEqual(sorted(e["to"] for e in updates), sorted([ALICE, BOB]))
        for update in updates:
            self.assertEqual(update["from"], ROOM)
            photo = next(next(update.elements(NS_VCARD_UPDATE, "x")).elements(NS_VCARD_UPDATE, "photo"))
            self.assertEqual(str(photo), HASH)
        got = self.iq(BOB, "get", ROOM, f"<vCard xmlns='{NS_VCARD}'/>")
        binval = next(next(next(got.elements(NS_VCARD, "vCard")).elements(NS_VCARD, "PHOTO")).elements(NS_VCARD, "BINVAL"))
        self.assertEqual(base64.b64decode(str(binval)), IMAGE)
        self.assertEqual(self.roominfo()["muc#roominfo_avatarhash"], [HASH])
        carol = self.join("carol@example.org/c", "carol")
        [avatar] = [e for e in carol if e.name == "presence" and e["from"] == ROOM]
        self.assertIn(HASH, avatar.toXml())

    def test_avatarRefused(self) -> None:
        """
        Only owners set the vCard (forbidden); one larger than
        L{MAX_VCARD}, or with a photo that is not base64, is not-acceptable.
        """
        self.assertEqual(errorOf(self.iq(BOB, "set", ROOM, vcard())), ("auth", "forbidden"))
        self.assertEqual(errorOf(self.iq(ALICE, "set", ROOM, vcard(b"x" * MAX_VCARD))), ("modify", "not-acceptable"))
        self.assertEqual(errorOf(self.iq(ALICE, "set", ROOM, vcard("!!not base64!!"))), ("modify", "not-acceptable"))
        got = self.iq(BOB, "get", ROOM, f"<vCard xmlns='{NS_VCARD}'/>")
        self.assertEqual(next(got.elements(NS_VCARD, "vCard")).children, [])

    def test_occupantVcardForwarded(self) -> None:
        """
        A vCard request to an occupant is not the room's: it goes to the
        occupant's bare JID (Prosody's rule), from the requester's occupant
        JID.
        """
        self.users.send(f"<iq type='get' id='ov' from='{ALICE}' to='{ROOM}/bob'><vCard xmlns='{NS_VCARD}'/></iq>")
        [forwarded] = self.users.take(lambda e: e.name == "iq")
        self.assertEqual((forwarded["to"], forwarded["from"]), ("bob@example.org", f"{ROOM}/owner"))

    def test_noSuchRoom(self) -> None:
        """
        The vCard of a room that does not exist: item-not-found.
        """
        reply = self.iq(BOB, "get", f"nope@{MUC}", f"<vCard xmlns='{NS_VCARD}'/>")
        self.assertEqual(errorOf(reply), ("cancel", "item-not-found"))
