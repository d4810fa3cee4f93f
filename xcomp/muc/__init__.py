# -*- test-case-name: xcomp.test.test_muc -*-
"""
The C{muc} internal component: XEP-0045 multi-user chat, configured with
Prosody's option names, and its C{muc_mam} module (XEP-0313 archives).

The split follows Prosody's C{mod_muc}/C{muc.lib.lua}: L{xcomp.muc.room} is
the room as a pure state machine (stanzas in, stanzas out, no I/O), put
together from its state (L{xcomp.muc.state}) and one module per concept:
L{xcomp.muc.presence}, L{xcomp.muc.messages} with L{xcomp.muc.history},
L{xcomp.muc.moderation} and L{xcomp.muc.owner}.  L{xcomp.muc.component} is
the glue to the router (wokkel handlers, the room table, storage) and
L{xcomp.muc.discovery} its disco handler; L{xcomp.muc.settings} holds the
options and the room configuration form; L{xcomp.muc.store} the SQLite
storage; L{xcomp.muc.mam} the archive module.

Like a third party's plugin, the package uses xcomp only through
L{xcomp.plugin} and L{xcomp.interfaces}.
"""

__all__: list[str] = []
