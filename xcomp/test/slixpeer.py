"""
A slixmpp C{ComponentXMPP} peer for the loopback tests, run as its own process:

    python -m xcomp.test.slixpeer DOMAIN SECRET PORT [LIFETIME]

It prints one line per event to stdout: C{READY} once authenticated,
C{MESSAGE <from> <body>} per message (and answers it with C{echo: <body>};
a body C{bounce <jid>} makes it send a message to C{<jid>} instead),
C{PRESENCE <from> <show>} per presence (answered with its own presence),
C{ERROR-MESSAGE <from> <condition>} per error it receives,
C{STREAM-ERROR <condition>}, and C{DISCONNECTED}.  It answers XEP-0199 pings
and disco through slixmpp's own plugins, and exits after LIFETIME seconds
(default 30) at the latest.
"""

from __future__ import annotations

import asyncio
import sys

from slixmpp.componentxmpp import ComponentXMPP


def say(*words: str) -> None:
    print(*words, flush=True)


class Peer(ComponentXMPP):
    def __init__(self, domain: str, secret: str, port: int) -> None:
        # On a component stream an <error> child is in the stream's namespace
        # (jabber:component:accept), as every server sends it; slixmpp reads
        # it only with fix_error_ns, as component authors using it set.
        super().__init__(domain, secret, "127.0.0.1", port, fix_error_ns=True)
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", lambda _: say("READY"))
        self.add_event_handler("message", self._message)
        self.add_event_handler("presence", self._presence)
        self.add_event_handler("message_error", self._message)
        self.add_event_handler("stream_error", self._streamError)
        self.add_event_handler("disconnected", lambda _: say("DISCONNECTED"))

    def _message(self, message) -> None:
        if message["type"] == "error":
            say("ERROR-MESSAGE", str(message["from"]), message["error"]["condition"])
            return
        say("MESSAGE", str(message["from"]), message["body"])
        if message["body"].startswith("bounce "):
            self.send_message(mto=message["body"].split()[1], mbody="x", mfrom=self.boundjid.bare)
            return
        message.reply(f"echo: {message['body']}").send()

    def _presence(self, presence) -> None:
        say("PRESENCE", str(presence["from"]), presence["show"] or "available")
        self.send_presence(pto=presence["from"], pfrom=self.boundjid.bare, pshow="dnd")

    def _streamError(self, error) -> None:
        say("STREAM-ERROR", error["condition"])


async def main(domain: str, secret: str, port: int, lifetime: float) -> None:
    peer = Peer(domain, secret, port)
    peer.connect()
    await asyncio.sleep(lifetime)
    peer.disconnect()
    await asyncio.sleep(0.5)


if __name__ == "__main__":
    domain, secret, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    asyncio.run(main(domain, secret, port, lifetime))
