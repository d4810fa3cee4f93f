# -*- test-case-name: xcomp.test.test_s2s_dialback -*-
"""
Server-to-server federation (RFC 6120, XEP-0220 dialback, XEP-0178 SASL
EXTERNAL, XEP-0368 direct TLS): remote servers reach the domains xcomp hosts,
and stanzas from xcomp's components to remote domains go out over s2s.

To the router, s2s is one more kind of route: the outgoing side is the
router's remote route (L{xcomp.router.Router.setRemote}), which takes every
stanza for a domain xcomp does not host; the incoming side hands what it
accepted to L{xcomp.router.Router.route}.
"""
