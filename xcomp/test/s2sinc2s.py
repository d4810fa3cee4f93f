# -*- test-case-name: xcomp.test.test_s2s_inbound_prosody -*-
"""
A user of a remote XMPP server, for the s2s interop tests, run as its own
process (slixmpp needs its own asyncio loop):

    python -m xcomp.test.s2sinc2s HOST PORT JID PASSWORD TO (message|iq)

It logs in over c2s (plaintext, loopback only), then either sends a chat
message to TO and waits for one back, printing C{GOT <body>}, or sends a
ping iq to TO and prints C{IQ <type>} for the answer.  C{TIMEOUT} when
nothing came within 20 seconds.
"""

from __future__ import annotations

import asyncio
import sys

from slixmpp import JID, ClientXMPP
from slixmpp.stanza import Message


async def main(host: str, port: int, jid: str, password: str, to: str, mode: str) -> None:
    client = ClientXMPP(jid, password)
    client.enable_starttls = False
    client.enable_direct_tls = False
    client.enable_plaintext = True
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    client.register_plugin("xep_0199")
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[str] = loop.create_future()
    started: asyncio.Future[None] = loop.create_future()

    def message(stanza: Message) -> None:
        if not answered.done() and stanza["type"] != "error":
            answered.set_result(f"GOT {stanza['body']}")

    client.add_event_handler("message", message)
    def sessionStarted(_: object) -> None:
        if not started.done():
            started.set_result(None)

    client.add_event_handler("session_start", sessionStarted)
    client.add_event_handler("failed_auth", lambda _: print("FAILED AUTH", flush=True))
    client.connect(host, port)
    try:
        await asyncio.wait_for(started, 20)
        client.send_presence()
        if mode == "message":
            client.send_message(mto=JID(to), mbody="hello from prosody", mtype="chat")
            print(await asyncio.wait_for(answered, 20), flush=True)
        else:
            iq = client.make_iq_get(queryxmlns="urn:xmpp:ping", ito=JID(to))
            reply = await iq.send(timeout=20)
            print(f"IQ {reply['type']}", flush=True)
    except asyncio.TimeoutError:
        print("TIMEOUT", flush=True)
    except Exception as e:
        print(f"ERROR {e!r}", flush=True)
    client.disconnect()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    host, port, jid, password, to, mode = sys.argv[1:7]
    asyncio.run(main(host, int(port), jid, password, to, mode))
