"""
xcomp: a pluggable XMPP component router built on Twisted.

External components connect over XEP-0114 (C{jabber:component:accept}); the
router forwards their stanzas as the bytes received and answers what it must
with RFC 6120 errors.  The public names for embedding xcomp in another Twisted
application are in L{xcomp.api}.
"""

__version__ = "0.1.0.dev0"
__all__ = ["__version__"]
