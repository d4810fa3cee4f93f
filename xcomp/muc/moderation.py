# -*- test-case-name: xcomp.test.test_muc_room -*-
# The methods below declare self: Room, a subclass of the mixin, which mypy
# reports as "misc"; nothing else in this module does.
# mypy: disable-error-code="misc"
"""
The parts of a room that change who may do what: roles and affiliations
(C{muc#admin}), the owner's configuration form and destruction
(C{muc#owner}), and what service discovery shows of the room.

L{ModerationMixin} is mixed into L{xcomp.muc.room.Room}; like the rest of
the room it does no I/O.  Requests are refused by raising L{StanzaError}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp._wokkel import data_form
from xcomp.muc.elements import (
    NS_MUC,
    NS_MUC_OWNER,
    NS_MUC_ROOMINFO,
    NS_OCCUPANT_ID,
    Broadcast,
    Outgoing,
    child,
    element,
    mucUser,
    normalBareJid,
    normalJid,
    reason as reasonElement,
    text,
)
from xcomp.muc.settings import NS_ROOMCONFIG, configForm, formValues, submitForm

if TYPE_CHECKING:
    from xcomp.muc.room import Occupant, Room

_AFFILIATIONS = ("outcast", "none", "member", "admin", "owner")
_ROLES = ("none", "visitor", "participant", "moderator")


@attrs.frozen
class _RoleChange:
    occupant: Occupant
    role: str
    reason: str | None


@attrs.frozen
class _AffiliationChange:
    bare: str
    affiliation: str
    reason: str | None


class ModerationMixin:
    """
    Roles, affiliations, configuration and destruction of a L{Room}.
    """

    # The methods take self: Room, the one class this is mixed into, so that
    # they are checked against it (see the mypy line at the top).

    # Admin: lists

    def adminGet(self: Room, sender: str, query: domish.Element) -> domish.Element:
        """
        Answer a C{muc#admin} (or C{muc#owner}) list request: the users with
        one affiliation, or the occupants with one role.

        @return: the C{<query/>} to reply with.
        """
        item = child(query, query.uri, "item")
        if item is None:
            raise StanzaError("bad-request", "modify", "Ask for one affiliation or role")
        result = domish.Element((query.uri, "query"))
        affiliation = item.getAttribute("affiliation")
        role = item.getAttribute("role")
        if affiliation is not None:
            if affiliation not in _AFFILIATIONS or affiliation == "none":
                raise StanzaError("bad-request", "modify", "No such affiliation list")
            if self.affiliation(sender) not in ("admin", "owner"):
                raise StanzaError("forbidden", "auth", "Only admins and owners may see this list")
            listed = {bare: a for bare, a in self.affiliations.items() if a == affiliation}
            if affiliation == "owner":
                listed.update(dict.fromkeys(self.options.admins, "owner"))
            for bare in sorted(listed):
                entry = result.addElement("item")
                entry["affiliation"], entry["jid"] = affiliation, bare
            return result
        if role is not None:
            if role not in _ROLES or role == "none":
                raise StanzaError("bad-request", "modify", "No such role list")
            actor = self.occupantByJid(sender)
            if actor is None or actor.role != "moderator":
                raise StanzaError("forbidden", "auth", "Only moderators may see this list")
            for occupant in self.occupants.values():
                if occupant.role == role:
                    entry = result.addElement("item")
                    entry["role"], entry["nick"], entry["jid"] = role, occupant.nick, occupant.jid
                    entry["affiliation"] = self.affiliation(occupant.jid)
            return result
        raise StanzaError("bad-request", "modify", "Ask for one affiliation or role")

    # Admin: changes

    def adminSet(self: Room, sender: str, query: domish.Element) -> list[Outgoing]:
        """
        Apply a C{muc#admin} request: kick, voice, moderator, ban, member,
        admin and owner changes.  Every item is checked before any is
        applied.
        """
        changes: list[_RoleChange | _AffiliationChange] = []
        items = list(query.elements(query.uri, "item"))
        if not items:
            raise StanzaError("bad-request", "modify", "Nothing to change")
        for item in items:
            reason = text(item, query.uri, "reason")
            if item.getAttribute("affiliation") is not None:
                changes.append(self._checkAffiliation(sender, item, reason, changes))
            elif item.getAttribute("role") is not None:
                changes.append(self._checkRole(sender, item, reason))
            else:
                raise StanzaError("bad-request", "modify", "An item needs a role or an affiliation")
        actor = self.occupantByJid(sender)
        actorNick = actor.nick if actor is not None else None
        out: list[Outgoing] = []
        for change in changes:
            if isinstance(change, _RoleChange):
                out.extend(self._applyRole(change, actorNick))
            else:
                out.extend(self._applyAffiliation(change, actorNick))
        return out

    def _checkRole(self: Room, sender: str, item: domish.Element, reason: str | None) -> _RoleChange:
        """
        Check one role change against XEP-0045's rules.
        """
        role = item["role"]
        if role not in _ROLES:
            raise StanzaError("bad-request", "modify", "No such role")
        actor = self.occupantByJid(sender)
        if actor is None or actor.role != "moderator":
            raise StanzaError("forbidden", "auth", "Only moderators may change roles")
        target = self.occupants.get(item.getAttribute("nick") or "")
        if target is None:
            raise StanzaError("item-not-found", "cancel", "No occupant has that nickname")
        actorAffiliation = self.affiliation(sender)
        targetAffiliation = self.affiliation(target.jid)
        lowering = _ROLES.index(role) < _ROLES.index(target.role)
        if lowering and targetAffiliation in ("admin", "owner"):
            raise StanzaError("not-allowed", "cancel", "Admins and owners keep their role")
        if (role == "moderator" or target.role == "moderator") and actorAffiliation not in ("admin", "owner"):
            raise StanzaError("not-allowed", "cancel", "Only admins and owners may change moderators")
        return _RoleChange(target, role, reason)

    def _checkAffiliation(
        self: Room,
        sender: str,
        item: domish.Element,
        reason: str | None,
        earlier: list[_RoleChange | _AffiliationChange],
    ) -> _AffiliationChange:
        """
        Check one affiliation change against XEP-0045's rules.
        """
        affiliation = item["affiliation"]
        if affiliation not in _AFFILIATIONS:
            raise StanzaError("bad-request", "modify", "No such affiliation")
        bare = normalBareJid(item.getAttribute("jid"))
        if bare is None:
            occupant = self.occupants.get(item.getAttribute("nick") or "")
            if occupant is None:
                raise StanzaError("bad-request", "modify", "An item needs a valid jid or an occupant's nick")
            bare = occupant.bare
        actorAffiliation = self.affiliation(sender)
        if actorAffiliation not in ("admin", "owner"):
            raise StanzaError("forbidden", "auth", "Only admins and owners may change affiliations")
        if bare in self.options.admins:
            raise StanzaError("not-allowed", "cancel", "The service's admins own every room")
        current = self.affiliation(bare)
        if actorAffiliation == "admin" and (
            current in ("admin", "owner") or affiliation in ("admin", "owner")
        ):
            raise StanzaError("not-allowed", "cancel", "Only owners may change admins and owners")
        if current == "owner" and affiliation != "owner":
            owners = {b for b, a in self.affiliations.items() if a == "owner"}
            owners -= {c.bare for c in earlier if isinstance(c, _AffiliationChange) and c.affiliation != "owner"}
            if owners <= {bare}:
                raise StanzaError("conflict", "cancel", "A room keeps at least one owner")
        return _AffiliationChange(bare, affiliation, reason)

    def _applyRole(self: Room, change: _RoleChange, actor: str | None) -> list[Outgoing]:
        occupant = change.occupant
        if occupant.nick not in self.occupants:
            return []
        if change.role == "none":
            return self._remove(occupant, {"307"}, actor=actor, reason=change.reason)
        occupant.role = change.role
        occupant._cache.clear()
        return self._announce(occupant, change.reason)

    def _applyAffiliation(self: Room, change: _AffiliationChange, actor: str | None) -> list[Outgoing]:
        if change.affiliation == "none":
            self.affiliations.pop(change.bare, None)
        else:
            self.affiliations[change.bare] = change.affiliation
        self.stateChanged = True
        out: list[Outgoing] = []
        for occupant in [o for o in self.occupants.values() if o.bare == change.bare]:
            if change.affiliation == "outcast":
                out.extend(self._remove(occupant, {"301"}, actor=actor, reason=change.reason))
            elif self.config.membersOnly and change.affiliation == "none":
                out.extend(self._remove(occupant, {"321"}, actor=actor, reason=change.reason))
            else:
                occupant.role = self.defaultRole(change.affiliation)
                occupant._cache.clear()
                out.extend(self._announce(occupant, change.reason))
        return out

    def _announce(self: Room, occupant: Occupant, reason: str | None) -> list[Outgoing]:
        """
        Broadcast an occupant's changed role or affiliation.
        """
        children = [reasonElement(reason)] if reason else []
        return self._fanPresence(
            occupant, list(self.occupants.values()), selfCodes={"110"}, itemChildren=children
        )

    # Owner: configuration

    def ownerGet(self: Room, sender: str, query: domish.Element) -> domish.Element:
        """
        Answer a C{muc#owner} get: the configuration form (or, for old
        clients, an owner or admin list).
        """
        if self.affiliation(sender) != "owner":
            raise StanzaError("forbidden", "auth", "Only owners may configure the room")
        if child(query, NS_MUC_OWNER, "item") is not None:
            return self.adminGet(sender, query)
        fields = [f for extension in self.extensions for f in extension.configFields(self)]
        result = domish.Element((NS_MUC_OWNER, "query"))
        result.addChild(configForm(self.config, self.options, fields).toElement())
        return result

    def ownerSet(self: Room, sender: str, query: domish.Element) -> list[Outgoing]:
        """
        Apply a C{muc#owner} set: a submitted or cancelled form, a
        destruction, or (old clients) owner and admin list changes.
        """
        if self.affiliation(sender) != "owner":
            raise StanzaError("forbidden", "auth", "Only owners may configure the room")
        destroy = child(query, NS_MUC_OWNER, "destroy")
        if destroy is not None:
            return self.destroy(
                reason=text(destroy, NS_MUC_OWNER, "reason"),
                alternate=normalJid(destroy.getAttribute("jid")),
                password=text(destroy, NS_MUC_OWNER, "password"),
            )
        if child(query, NS_MUC_OWNER, "item") is not None:
            return self.adminSet(sender, query)
        x = child(query, data_form.NS_X_DATA, "x")
        if x is None:
            raise StanzaError("bad-request", "modify", "Expected a form, a destroy or items")
        form = data_form.Form.fromElement(x)
        if form.formType == "cancel":
            if self.locked:
                return self.destroy()
            return []
        if form.formType != "submit" or form.formNamespace not in (NS_ROOMCONFIG, None):
            raise StanzaError("bad-request", "modify", "Expected a muc#roomconfig form")
        return self.configure(formValues(form))

    def configure(self: Room, values: dict[str, list[str]]) -> list[Outgoing]:
        """
        Apply submitted C{muc#roomconfig} values; unlock a new room.
        """
        try:
            config = submitForm(self.config, values, self.options)
        except ValueError as e:
            raise StanzaError("not-acceptable", "modify", str(e)) from None
        codes: set[str] = set()
        old = self.config
        if config.whois != old.whois:
            codes.add("172" if config.whois == "anyone" else "173")
        if attrs.evolve(config, whois=old.whois) != old:
            codes.add("104")
        extraBefore = dict(self.extra)
        for extension in self.extensions:
            codes |= extension.configure(self, values)
        if self.extra != extraBefore:
            codes.add("104")
        self.config = config
        self.locked = False
        self.stateChanged = True
        for occupant in self.occupants.values():
            occupant._cache.clear()
        self._trimHistory(min(config.historyLength, self.options.maxHistory))
        out: list[Outgoing] = []
        if config.membersOnly and not old.membersOnly:
            for occupant in list(self.occupants.values()):
                if _AFFILIATIONS.index(self.affiliation(occupant.jid)) < _AFFILIATIONS.index("member"):
                    out.extend(self._remove(occupant, {"322"}))
        if codes and self.occupants:
            notice = element("message", sender=self.jid, type="groupchat")
            notice.addChild(mucUser(codes=codes))
            out.append(Broadcast.of(notice, [o.jid for o in self.occupants.values()]))
        return out

    def destroy(
        self: Room, reason: str | None = None, alternate: str | None = None, password: str | None = None
    ) -> list[Outgoing]:
        """
        Destroy the room: every occupant is told (with the alternate venue,
        if any) and removed; L{destroyed} is set.
        """
        out: list[Outgoing] = []
        for occupant in self.occupants.values():
            presence = element("presence", to=occupant.jid, sender=f"{self.jid}/{occupant.nick}", type="unavailable")
            x = presence.addChild(mucUser({"affiliation": "none", "role": "none"}))
            notice = x.addElement("destroy")
            if alternate:
                notice["jid"] = alternate
            if reason:
                notice.addElement("reason", content=reason)
            if password:
                notice.addElement("password", content=password)
            presence.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
            out.append(presence)
        self.occupants.clear()
        self._byJid.clear()
        self.destroyed = True
        self.stateChanged = True
        return out

    # Discovery

    def features(self: Room) -> list[str]:
        """
        The room's disco#info features.
        """
        c = self.config
        features = [
            NS_MUC,
            "muc_public" if c.public else "muc_hidden",
            "muc_persistent" if c.persistent else "muc_temporary",
            "muc_membersonly" if c.membersOnly else "muc_open",
            "muc_moderated" if c.moderated else "muc_unmoderated",
            "muc_nonanonymous" if c.whois == "anyone" else "muc_semianonymous",
            "muc_passwordprotected" if c.password else "muc_unsecured",
            NS_OCCUPANT_ID,
            NS_MUC + "#self-ping-optimization",
            "urn:xmpp:ping",
        ]
        for extension in self.extensions:
            features.extend(extension.features(self))
        return features

    def infoForm(self: Room) -> data_form.Form:
        """
        The C{muc#roominfo} form of the room's disco#info.
        """
        return data_form.Form(
            "result",
            formNamespace=NS_MUC_ROOMINFO,
            fields=[
                data_form.Field("text-single", "muc#roominfo_description", self.config.description, label="Description"),
                data_form.Field("text-single", "muc#roominfo_occupants", str(len(self.occupants)), label="Number of occupants"),
                data_form.Field("text-single", "muc#roominfo_subject", self.subject[0], label="Subject"),
                data_form.Field("boolean", "muc#roomconfig_changesubject", self.config.changeSubject,
                                label="Occupants may change the subject"),
                data_form.Field("text-single", "muc#roomconfig_roomname", self.config.name, label="Title"),
            ],
        )

    def visibleOccupants(self: Room, requester: str) -> Iterable[str]:
        """
        The occupant JIDs (C{room/nick}) disco#items shows to C{requester}:
        only occupants see who is in the room.
        """
        if self.occupantByJid(requester) is None:
            return []
        return [f"{self.jid}/{nick}" for nick in self.occupants]
