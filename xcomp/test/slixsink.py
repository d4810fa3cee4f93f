"""
A slixmpp C{ComponentXMPP} that counts what it receives, run as its own
process, for the tests of holding and balancing (L{xcomp.test.test_hold_loopback},
L{xcomp.test.test_balance_loopback}):

    python -m xcomp.test.slixsink DOMAIN SECRET PORT [STOP_AFTER [LIFETIME]]

It prints C{READY} once authenticated, C{M <from> <id>} for each message
received, in the order received, and after STOP_AFTER messages (0, the
default: never) C{CLOSING}, then closes its stream as a component being
restarted does: slixmpp's C{disconnect()} sends the end of its stream and
keeps reading (and printing) until the router's end, as RFC 6120 section
4.4 asks.  It prints C{DISCONNECTED} and exits when the connection is gone,
or after LIFETIME seconds (default 60) at the latest.  SIGTERM makes it
close its stream the same way at once.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from slixmpp.componentxmpp import ComponentXMPP


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Sink(ComponentXMPP):
    def __init__(self, domain: str, secret: str, port: int, stopAfter: int) -> None:
        super().__init__(domain, secret, "127.0.0.1", port)
        self.stopAfter = stopAfter
        self.count = 0
        self.gone = asyncio.Event()
        self.add_event_handler("session_start", lambda _: say("READY"))
        self.add_event_handler("message", self._message)
        self.add_event_handler("disconnected", self._disconnected)

    def _message(self, message) -> None:
        self.count += 1
        say(f"M {message['from']} {message['id']}")
        if self.count == self.stopAfter:
            self.close()

    def close(self) -> None:
        say("CLOSING")
        self.disconnect(wait=20)

    def _disconnected(self, _) -> None:
        say("DISCONNECTED")
        self.gone.set()


async def main(domain: str, secret: str, port: int, stopAfter: int, lifetime: float) -> None:
    sink = Sink(domain, secret, port, stopAfter)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sink.close)
    sink.connect()
    try:
        await asyncio.wait_for(sink.gone.wait(), lifetime)
    except asyncio.TimeoutError:
        sink.disconnect(wait=1)
        await asyncio.sleep(1.5)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(
        main(
            args[0],
            args[1],
            int(args[2]),
            int(args[3]) if len(args) > 3 else 0,
            float(args[4]) if len(args) > 4 else 60.0,
        )
    )
