"""
xcomp's Twisted plugins.  Kept cheap to import: every name here is resolved
lazily, when it is used.
"""

from twisted.application.service import ServiceMaker

xcomp = ServiceMaker(
    "xcomp",
    "xcomp.tap",
    "A pluggable XMPP component router (XEP-0114), configured like Prosody",
    "xcomp",
)
