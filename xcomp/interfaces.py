# -*- test-case-name: xcomp.test.test_router -*-
"""
Every zope interface of xcomp, in one place.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IRoute(Interface):
    """
    A destination in the routing table: an external component's stream, an
    internal component, or a host the router answers for itself.
    """

    domain = Attribute("The nameprep'd domain this route was bound for, as a str.")

    def send(stanza):  # type: ignore[no-untyped-def]
        """
        Deliver a L{xcomp.stanza.Stanza} the router accepted for this route.

        Must not call back into the router synchronously.
        """


class IStreamRoute(IRoute):
    """
    A route that is one external component's stream.
    """

    peer = Attribute("The remote address as text, for logs.")
    domains = Attribute("Every domain bound to this stream, a frozenset of str.")
    checkFrom = Attribute(
        "Whether the router refuses a 'from' outside L{domains} (invalid-from);"
        " false for trusted streams."
    )

    def close(condition, text=None):  # type: ignore[no-untyped-def]
        """
        End the stream with a stream error of the given RFC 6120 condition and
        drop the connection.  No stanza is written to the stream after this.
        """


class IStreamReceiver(Interface):
    """
    What a L{xcomp.stream.StreamParser} reports to.  Every method is called
    from within C{StreamParser.feed}.
    """

    def streamStarted(header):  # type: ignore[no-untyped-def]
        """
        The stream header has been parsed.

        @type header: L{xcomp.stream.StreamHeader}
        """

    def stanzaReceived(stanza):  # type: ignore[no-untyped-def]
        """
        A complete top-level element has arrived.

        @type stanza: L{xcomp.stanza.Stanza}
        """

    def streamEnded():  # type: ignore[no-untyped-def]
        """
        The peer closed its stream (C{</stream:stream>}).
        """

    def streamFailed(condition, text):  # type: ignore[no-untyped-def]
        """
        The input broke a rule; the parser will ignore everything after it.

        @param condition: the RFC 6120 stream error condition to answer with
            (C{not-well-formed}, C{restricted-xml}, C{policy-violation},
            C{unsupported-encoding}, ...).
        @param text: a human-readable explanation, or C{None}.
        """
