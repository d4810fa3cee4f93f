# -*- test-case-name: xcomp.test.test_s2s_inbound_auth -*-
"""
A stanza from a server stream as the rest of xcomp sees stanzas: in the
component namespace.

Between servers, stanzas are qualified by C{jabber:server}; the router, the
component streams and the internal components all work in
C{jabber:component:accept}.  A stanza that inherits its namespace from the
stream header (the usual form) keeps its bytes: written to a component's
stream it is in that stream's default namespace, as Prosody forwards it.
Only one that declares C{xmlns='jabber:server'} itself, or needs the
header's prefixes, is rebuilt.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.s2s.inboundauth import SERVER_NS
from xcomp.stanza import COMPONENT_NS, Stanza
from xcomp.stream.scan import endOfTag

__all__ = ["serverStanza"]


def serverStanza(stanza: Stanza) -> Stanza:
    """
    C{stanza}, received in C{jabber:server}, in the component namespace.
    """
    raw = stanza.raw
    if raw is not None and b"xmlns" not in raw[: endOfTag(raw, 0)]:
        return Stanza(stanza.name, COMPONENT_NS, stanza.attributes, raw)
    element = stanza.element()
    _requalify(element)
    return Stanza.fromElement(element)


def _requalify(element: domish.Element) -> None:
    """
    Move C{element} and its descendants from C{jabber:server} to the
    component namespace.
    """
    # Bounded by the stanza size limit, like the parse that built the tree.
    todo = [element]
    while todo:
        current = todo.pop()
        if current.uri == SERVER_NS:
            current.uri = COMPONENT_NS
        if current.defaultUri == SERVER_NS:
            current.defaultUri = COMPONENT_NS
        todo.extend(current.elements())
