"""
A slixmpp C{ComponentXMPP} standing for the users of one domain in the
C{muc} loopback tests, driven by the test over stdin and stdout:

    python -m xcomp.test.slixmuc DOMAIN SECRET PORT [LIFETIME]

It uses slixmpp's own client plugins the way chat clients do: C{xep_0045}
(join, configure, affiliations, invitations, voice requests, destroy),
C{xep_0425} (moderation), C{xep_0059} (paging disco#items), C{xep_0092}
(answers version requests, which the room forwards to occupants) and
C{xep_0199} (pings, and XEP-0410 self-pings), with C{multi_from} so that
one process holds several users (C{alice@DOMAIN/desk}...).

Each line on stdin is a JSON command C{{"id": N, "op": NAME, ...}}; the
answer is a line C{RESULT N {"ok": ..., ...}}.  Every message and presence
received is printed as C{EVENT {"name": ..., "from": ..., "to": ...,
"type": ..., "xml": ...}}.  C{READY} once authenticated.  It exits after
LIFETIME seconds (default 60) at the latest, or when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, cast
from xml.etree import ElementTree

from slixmpp import JID
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout, PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_REQUEST = "http://jabber.org/protocol/muc#request"
TIMEOUT = 15


def say(*words: str) -> None:
    print(*words, flush=True)


class Users(ComponentXMPP):
    def __init__(self, domain: str, secret: str, port: int) -> None:
        super().__init__(domain, secret, "127.0.0.1", port, fix_error_ns=True)
        for plugin in ("xep_0030", "xep_0004", "xep_0059", "xep_0092", "xep_0199", "xep_0425"):
            self.register_plugin(plugin)
        self.register_plugin("xep_0045", {"multi_from": True})
        #: Joins waiting, by (occupant JID, user): their error, if any.
        self.joins: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self.add_event_handler("session_start", lambda _: say("READY"))
        for name in ("message", "presence"):
            self.register_handler(Callback(f"dump {name}", MatchXPath(f"{{jabber:component:accept}}{name}"), self._dump))

    def _dump(self, stanza: Any) -> None:
        if stanza.name == "presence" and stanza["type"] == "error":
            refused = self.joins.get((str(stanza["from"]), str(stanza["to"])))
            if refused is not None and not refused.done():
                refused.set_result(stanza)
        event = {"name": stanza.name, "from": str(stanza["from"]), "to": str(stanza["to"]),
                 "type": stanza["type"], "xml": str(stanza)}
        say("EVENT", json.dumps(event))

    # Commands: each returns what the RESULT carries.

    async def op_join(self, user: str, room: str, nick: str, password: str | None = None) -> dict[str, Any]:
        # xep_0045 tells a join error only by the MUC element echoed in it;
        # a server that leaves it out (Prosody 0.12) is caught here too.
        refused: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        key = (f"{room}/{nick}", user)
        self.joins[key] = refused
        joining = asyncio.ensure_future(self.plugin["xep_0045"].join_muc_wait(
            JID(room), nick, password=password, presence_options={"pfrom": JID(user)}, timeout=TIMEOUT
        ))
        try:
            await asyncio.wait([joining, refused], timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.joins.pop(key, None)
        if refused.done():
            joining.cancel()
            return {"ok": False, "condition": refused.result()["error"]["condition"]}
        try:
            presence, _, occupants, history = joining.result()
        except PresenceError as e:
            return {"ok": False, "condition": e.condition}
        item = presence["muc"]
        return {"ok": True, "codes": sorted(str(c) for c in presence["muc"]["status_codes"]),
                "affiliation": item["affiliation"], "role": item["role"], "nick": presence["from"].resource,
                "occupants": len(occupants), "history": [m["body"] for m in history]}

    async def op_leave(self, user: str, room: str, nick: str) -> dict[str, Any]:
        # What xep_0045's leave_muc sends; its multi_from bookkeeping loses
        # track of a second session of one bare JID.
        self.send_presence(pto=JID(f"{room}/{nick}"), ptype="unavailable", pfrom=JID(user))
        return {"ok": True}

    async def op_say(self, user: str, room: str, body: str) -> dict[str, Any]:
        self.send_message(mto=JID(room), mbody=body, mtype="groupchat", mfrom=JID(user))
        return {"ok": True}

    async def op_presence(self, user: str, to: str) -> dict[str, Any]:
        # A nick change, as a client sends it (a presence to the new nick).
        self.send_presence(pto=JID(to), pfrom=JID(user))
        return {"ok": True}

    async def op_pm(self, user: str, to: str, body: str) -> dict[str, Any]:
        self.send_message(mto=JID(to), mbody=body, mtype="chat", mfrom=JID(user))
        return {"ok": True}

    async def op_configure(self, user: str, room: str, fields: dict[str, Any]) -> dict[str, Any]:
        muc = self.plugin["xep_0045"]
        form = await muc.get_room_config(JID(room), ifrom=JID(user), timeout=TIMEOUT)
        for var, value in fields.items():
            form.field[var]["value"] = value
        await muc.set_room_config(JID(room), form, ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True}

    async def op_affiliation(self, user: str, room: str, jid: str, affiliation: str, nick: str | None = None) -> dict[str, Any]:
        await self.plugin["xep_0045"].set_affiliation(
            JID(room), cast(Any, affiliation), jid=JID(jid), nick=nick, ifrom=JID(user), timeout=TIMEOUT
        )
        return {"ok": True}

    async def op_role(self, user: str, room: str, nick: str, role: str) -> dict[str, Any]:
        await self.plugin["xep_0045"].set_role(JID(room), nick, cast(Any, role), ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True}

    async def op_members(self, user: str, room: str, affiliation: str) -> dict[str, Any]:
        jids = await self.plugin["xep_0045"].get_affiliation_list(JID(room), cast(Any, affiliation), ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True, "jids": sorted(str(j) for j in jids)}

    async def op_invite(self, user: str, room: str, jid: str, reason: str = "") -> dict[str, Any]:
        self.plugin["xep_0045"].invite(JID(room), JID(jid), reason, mfrom=JID(user))
        return {"ok": True}

    async def op_decline(self, user: str, room: str, jid: str, reason: str = "") -> dict[str, Any]:
        self.plugin["xep_0045"].decline(JID(room), JID(jid), reason, mfrom=JID(user))
        return {"ok": True}

    async def op_requestVoice(self, user: str, room: str) -> dict[str, Any]:
        self.plugin["xep_0045"].request_voice(JID(room), "participant", mfrom=JID(user))
        return {"ok": True}

    async def op_approveVoice(self, user: str, room: str, jid: str, nick: str) -> dict[str, Any]:
        form = self.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value=NS_REQUEST)
        form.add_field(var="muc#role", value="participant")
        form.add_field(var="muc#jid", value=jid)
        form.add_field(var="muc#roomnick", value=nick)
        form.add_field(var="muc#request_allow", ftype="boolean", value=True)
        message = self.make_message(mto=JID(room), mfrom=JID(user))
        message.append(form)
        message.send()
        return {"ok": True}

    async def op_moderate(self, user: str, room: str, stanzaId: str, reason: str = "") -> dict[str, Any]:
        await self.plugin["xep_0425"].moderate(JID(room), stanzaId, reason, ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True}

    async def op_destroy(self, user: str, room: str, reason: str = "") -> dict[str, Any]:
        await self.plugin["xep_0045"].destroy(JID(room), reason, ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True}

    async def op_version(self, user: str, jid: str) -> dict[str, Any]:
        version = await self.plugin["xep_0092"].get_version(JID(jid), ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True, "name": version["software_version"]["name"], "from": str(version["from"])}

    async def op_ping(self, user: str, jid: str) -> dict[str, Any]:
        await self.plugin["xep_0199"].send_ping(JID(jid), ifrom=JID(user), timeout=TIMEOUT)
        return {"ok": True}

    async def op_rooms(self, user: str, service: str, page: int) -> dict[str, Any]:
        iq = self.make_iq_get(ito=JID(service), ifrom=JID(user))
        iq.enable("disco_items")
        jids: list[str] = []
        pages = 0
        async for result in self.plugin["xep_0059"].iterate(iq, "disco_items", amount=page):
            pages += 1
            jids.extend(str(item[0]) for item in result["disco_items"]["items"])
        return {"ok": True, "jids": jids, "pages": pages}

    async def op_iq(self, user: str, to: str, type: str, payload: str) -> dict[str, Any]:
        iq = self.make_iq(ito=JID(to), ifrom=JID(user), itype=cast(Any, type))
        iq.append(ElementTree.fromstring(payload))
        reply = await iq.send(timeout=TIMEOUT)
        return {"ok": True, "xml": str(reply)}

    async def run(self, command: dict[str, Any]) -> None:
        number = command.pop("id")
        handler = getattr(self, "op_" + command.pop("op"))
        try:
            result = await handler(**command)
        except IqError as e:
            result = {"ok": False, "condition": e.condition, "type": e.etype, "text": e.text}
        except (IqTimeout, asyncio.TimeoutError):
            result = {"ok": False, "condition": "timeout"}
        except Exception as e:
            # Said, so that the test fails with the reason at once.
            result = {"ok": False, "condition": "exception", "text": repr(e)}
        say("RESULT", str(number), json.dumps(result))


async def main(domain: str, secret: str, port: int, lifetime: float) -> None:
    users = Users(domain, secret, port)
    users.connect()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def commands() -> None:
        while line := await reader.readline():
            asyncio.ensure_future(users.run(json.loads(line)))

    try:
        await asyncio.wait_for(commands(), lifetime)
    except asyncio.TimeoutError:
        pass
    users.disconnect()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    domain, secret, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    asyncio.run(main(domain, secret, port, lifetime))
