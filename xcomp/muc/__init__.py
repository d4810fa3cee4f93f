# -*- test-case-name: xcomp.test.test_muc -*-
"""
The C{muc} internal component: XEP-0045 multi-user chat, configured with
Prosody's option names, and its C{muc_mam} module (XEP-0313 archives).

The split follows Prosody's C{mod_muc}/C{muc.lib.lua}: L{xcomp.muc.room} is
the room as a pure state machine (stanzas in, stanzas out, no I/O);
L{xcomp.muc.component} is the glue to the router (wokkel handlers, the room
table, storage); L{xcomp.muc.settings} holds the options and the room
configuration form; L{xcomp.muc.store} the SQLite storage;
L{xcomp.muc.mam} the archive module.
"""

__all__: list[str] = []
