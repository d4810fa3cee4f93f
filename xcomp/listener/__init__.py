# -*- test-case-name: xcomp.test.test_listener,xcomp.test.test_listener_bound,xcomp.test.test_listener_outbox,xcomp.test.test_listenopts,xcomp.test.test_claims,xcomp.test.test_proxy -*-
"""
The XEP-0114 component listener: one L{ComponentListenerFactory} per
configured port and interface, one L{ComponentStream} per connection.

On the stanza's path it sits between the stream parser (L{xcomp.stream})
and the router (L{xcomp.router}): it reads the stream header, decides from
the configuration (never from the routing table) which domains the stream
may claim, checks the handshake, binds the domains with the router, and
hands the bound stream's stanzas to it.

 - L{xcomp.listener.connection}: the stream and its states (header,
   handshake, bound), its deadlines, and how it ends.
 - L{xcomp.listener.claims}: which domains a header may claim and with
   which secret (C{password}, C{password_domains}), and the handshake
   digest.
 - L{xcomp.listener.output}: the write side: writes gathered per read
   (L{Outbox}) and the bounds on a peer that does not read
   (C{max_output_buffer}, C{send_timeout}).
 - L{xcomp.listener.factory}: the listener's shared state, keepalives and
   shutdown.
 - L{xcomp.listener.proxy}: the HAProxy PROXY protocol header, read before
   anything else when C{proxy_protocol} is on.

Each factory applies its L{ListenerConfig}: a connection limit (checked
when a connection is made), a deadline for the handshake
(C{state_timeout}), a traffic shaper (checked once per read), whitespace
keepalives to bound components that have been silent (one timer per
listener, which also makes their streams hibernate; so does a successful
handshake), and the bounds on writing.  The kernel is also told the send
timeout (C{TCP_USER_TIMEOUT}), which catches a peer that vanished without a
word.  None of this adds work per stanza while the transport keeps up.
"""

from xcomp.listener.claims import Claim, Refused, claimDomains, handshakeDigest, handshakeValue
from xcomp.listener.connection import STANZA_NAMES, ComponentStream, _IStreamTransport, formatPeer
from xcomp.listener.factory import ComponentListenerFactory
from xcomp.listener.output import Outbox, OutputBound, bufferedBytes

__all__ = [
    "STANZA_NAMES",
    "Claim",
    "ComponentListenerFactory",
    "ComponentStream",
    "Outbox",
    "OutputBound",
    "Refused",
    "_IStreamTransport",
    "bufferedBytes",
    "claimDomains",
    "formatPeer",
    "handshakeDigest",
    "handshakeValue",
]
