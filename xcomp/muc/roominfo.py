# -*- test-case-name: xcomp.test.test_muc_roominfo -*-
"""
What a room tells about itself beyond XEP-0045's core: its language
(C{muc#roomconfig_lang}, shown as C{muc#roominfo_lang}), and its vCard
with an avatar (XEP-0486, with XEP-0153 hashes; as Prosody's
C{mod_vcard_muc}): owners set it with a C{vcard-temp} iq to the room,
anyone reads it, and its SHA-1 hash is in the C{muc#roominfo} form
(C{muc#roominfo_avatarhash}) and in a presence from the room's bare JID
with C{vcard-temp:x:update}, which each occupant gets on joining and
everyone gets when it changes.

Both are kept in the room's C{extra} (stored with it).  Pure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import Broadcast, Outgoing, element, serialise
from xcomp.muc.state import RoomState
from xcomp.plugin import data_form, parseElement

NS_VCARD = "vcard-temp"
NS_VCARD_UPDATE = "vcard-temp:x:update"
#: The largest room vCard kept (with its photo), in bytes.
MAX_VCARD = 128 * 1024


def language(room: RoomState) -> str:
    """
    The room's language tag, or C{""}.
    """
    return room.config.language


def avatarHash(room: RoomState) -> str | None:
    """
    The SHA-1 (hex) of the room's avatar, if it has one.
    """
    value = room.extra.get("avatar")
    return value if isinstance(value, str) else None


def infoFields(room: RoomState) -> list[data_form.Field]:
    """
    The extended C{muc#roominfo} fields: language and avatar hash.
    """
    fields = [data_form.Field("text-single", "muc#roominfo_lang", language(room), label="Language")]
    digest = avatarHash(room)
    if digest is not None:
        fields.append(data_form.Field("text-multi", "muc#roominfo_avatarhash", values=[digest], label="Avatar hash"))
    return fields


def vcardGet(room: RoomState) -> domish.Element:
    """
    The room's vCard (an empty one when none is set).
    """
    stored = room.extra.get("vcard")
    if isinstance(stored, str):
        try:
            return parseElement(stored.encode("utf-8"), {"": NS_VCARD})
        except ValueError:
            pass
    return domish.Element((NS_VCARD, "vCard"))


def vcardSet(room: RoomState, sender: str, vcard: domish.Element) -> list[Outgoing]:
    """
    An owner sets the room's vCard; when the avatar changed, everyone gets
    the new hash.

    @raise StanzaError: C{forbidden} for others than owners;
        C{not-acceptable} for a vCard larger than L{MAX_VCARD} or a photo
        that is not base64.
    """
    if room.affiliation(sender) != "owner":
        raise StanzaError("forbidden", "auth", "Only owners may set the room's vCard")
    data = serialise(vcard).decode("utf-8")
    if len(data) > MAX_VCARD:
        raise StanzaError("not-acceptable", "modify", f"The vCard is larger than {MAX_VCARD} bytes")
    digest = _photoHash(vcard)
    room.extra["vcard"] = data
    before = avatarHash(room)
    if digest is None:
        room.extra.pop("avatar", None)
    else:
        room.extra["avatar"] = digest
    room.stateChanged = True
    if digest == before:
        return []
    return avatarPresence(room, room.everyone())


def avatarPresence(room: RoomState, recipients: list[str]) -> list[Outgoing]:
    """
    The presence from the room's bare JID with its avatar hash
    (XEP-0153's C{<photo/>}, empty when it has none), to C{recipients}.
    """
    if not recipients or ("avatar" not in room.extra and "vcard" not in room.extra):
        return []
    presence = element("presence", sender=room.jid)
    update = presence.addElement((NS_VCARD_UPDATE, "x"))
    photo = update.addElement("photo")
    digest = avatarHash(room)
    if digest is not None:
        photo.addContent(digest)
    return [Broadcast.of(presence, recipients)]


def _photoHash(vcard: domish.Element) -> str | None:
    """
    The SHA-1 of the vCard's photo, or C{None} when it has none.

    @raise StanzaError: C{not-acceptable}, the photo is not base64.
    """
    photo = next(vcard.elements(NS_VCARD, "PHOTO"), None)
    binval = None if photo is None else next(photo.elements(NS_VCARD, "BINVAL"), None)
    if binval is None or not str(binval).strip():
        return None
    try:
        image = base64.b64decode("".join(str(binval).split()), validate=True)
    except (binascii.Error, ValueError):
        raise StanzaError("not-acceptable", "modify", "The photo is not base64") from None
    return hashlib.sha1(image).hexdigest()



