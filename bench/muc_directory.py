#!/usr/bin/env python3
"""
The cost of the C{muc} room list (disco#items on the service, XEP-0059
paging) with many rooms, in process over xcomp's in-memory router: pages
of 50 rooms (each after a different room) and whole answers without
C{<set/>} (the first 1000 rooms).

    python3 bench/muc_directory.py [--rooms 10000] [--pages 200]
"""

from __future__ import annotations

import argparse
import time

from xcomp.testing import ComponentHarness

MUC = "conference.example.org"
QUERY = "<query xmlns='http://jabber.org/protocol/disco#items'>{set}</query>"
RSM = "<set xmlns='http://jabber.org/protocol/rsm'><max>50</max><after>{after}</after></set>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rooms", type=int, default=10000)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    harness = ComponentHarness.forPlugin("muc", MUC, {"muc_max_rooms": max(args.rooms, 1)})
    harness.start()
    users = harness.external("example.org")
    component = harness.component
    for n in range(args.rooms):
        jid = f"r{n:06d}@{MUC}"
        component.rooms[jid] = component.newRoom(jid)  # type: ignore[attr-defined]

    def ask(number: int, payload: str) -> None:
        users.send(f"<iq type='get' id='q{number}' from='u@example.org/x' to='{MUC}'>{QUERY.format(set=payload)}</iq>")
        [reply] = users.take()
        assert reply["type"] == "result", reply.toXml()

    started = time.perf_counter()
    for number in range(args.pages):
        ask(number, RSM.format(after=f"r{(number * 37) % max(args.rooms - 1, 1):06d}@{MUC}"))
    paged = (time.perf_counter() - started) / args.pages
    started = time.perf_counter()
    for number in range(20):
        ask(number, "")
    whole = (time.perf_counter() - started) / 20
    harness.stop()
    print(f"{args.rooms} rooms: a page of 50 in {paged * 1000:.2f} ms ({1 / paged:.0f}/s); "
          f"an answer without <set/> (1000 rooms) in {whole * 1000:.1f} ms")


if __name__ == "__main__":
    main()
