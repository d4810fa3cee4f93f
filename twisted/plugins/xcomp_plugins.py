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

# The built-in internal component and its module, found by getPlugins like a
# third party's (xcomp.plugin imports nothing of the component until used).
from xcomp.plugin import ComponentModule, ComponentPlugin  # noqa: E402

muc = ComponentPlugin(
    "muc",
    "xcomp.muc.component.makeComponent",
    "XEP-0045 multi-user chat rooms",
    options="xcomp.muc.options.OPTIONS",
)
muc_mam = ComponentModule(
    "muc_mam",
    ("muc",),
    "xcomp.muc.mam.attach",
    "XEP-0313 message archives for the rooms of a muc component",
    options="xcomp.muc.options.MAM_OPTIONS",
)
