"""
A slixmpp c2s client for the tests against real servers, run as its own
process (slixmpp runs on asyncio, the tests on Twisted's reactor):

    python -m xcomp.test.slixclient JID PASSWORD HOST PORT CAFILE [LIFETIME]

It logs in over c2s to HOST:PORT (STARTTLS, the server's certificate
checked against CAFILE), sends its presence, prints C{READY}, then:

- each line it reads on stdin is XML that it sends as it is;
- each stanza it receives is printed as C{STANZA <xml>} on one line (newlines
  in the stanza are written as C{&#10;});
- C{FAILED <reason>} if it cannot log in, C{DISCONNECTED} at the end.

It exits after LIFETIME seconds (default 60) at the latest, or when stdin
closes.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from slixmpp import ClientXMPP


def say(*words: str) -> None:
    print(*words, flush=True)


class Client(ClientXMPP):
    def __init__(self, jid: str, password: str, cafile: str) -> None:
        super().__init__(jid, password)
        self.ca_certs = Path(cafile)
        # The port given is plain c2s with STARTTLS, never direct TLS.
        self.enable_direct_tls = False
        # Answers disco#info and pings to its full JID, for iqs that
        # components send it.
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self.add_event_handler("session_start", self._started)
        self.add_event_handler("failed_auth", lambda _: say("FAILED", "auth"))
        self.add_event_handler("connection_failed", lambda e: say("FAILED", "connection", str(e)))
        self.add_event_handler("disconnected", lambda _: say("DISCONNECTED"))
        for kind in ("message", "presence", "iq"):
            self.register_handler_raw(kind)

    def register_handler_raw(self, kind: str) -> None:
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        self.register_handler(
            Callback(f"raw {kind}", MatchXPath(f"{{{self.default_ns}}}{kind}"), self._stanza)
        )

    def _started(self, _: object) -> None:
        self.send_presence()
        say("READY", str(self.boundjid))

    def _stanza(self, stanza: object) -> None:
        say("STANZA", str(stanza).replace("\n", "&#10;"))


async def commands(client: Client) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        text = line.decode("utf-8").strip()
        if text:
            client.send_raw(text)


async def main(jid: str, password: str, host: str, port: int, cafile: str, lifetime: float) -> None:
    client = Client(jid, password, cafile)
    client.connect(host, port)
    try:
        await asyncio.wait_for(commands(client), lifetime)
    except asyncio.TimeoutError:
        pass
    client.disconnect()
    await asyncio.sleep(0.5)


if __name__ == "__main__":
    jid, password, host, port, cafile = sys.argv[1:6]
    lifetime = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
    asyncio.run(main(jid, password, host, int(port), cafile, lifetime))
