# -*- test-case-name: xcomp.test.test_muc_options,xcomp.test.test_muc_options_config -*-
"""
The options the C{muc} plugin declares, with Prosody's names, defaults and
meanings (Prosody 0.12's C{mod_muc} and its C{muc/*.lib.lua}; the nick
length of the community module C{mod_muc_limits}).

The configuration loader converts each at its own line; L{OPTIONS} is
named by xcomp's plugin file and imported only when a configuration uses
C{muc} (or by C{--list-plugins}).  This module imports the plugin API's
option types alone, so that reading the schema does not load the component.
"""

from __future__ import annotations

import re

import attrs
from twisted.words.protocols.jabber.jid import InvalidFormat, JID

from xcomp.interfaces import IOptionType
from xcomp.plugin import Boolean, Choice, Integer, PluginOption, String, StringList, implementer

__all__ = ["MAM_OPTIONS", "OPTIONS", "BareJIDs", "Period", "parsePeriod"]

#: Prosody's C{muc_tombstone_expiry}: 31 days.
TOMBSTONE_EXPIRY = 86400 * 31


@implementer(IOptionType)
@attrs.frozen
class BareJIDs:
    """
    A list of JIDs, each kept as its bare JID (a full JID counts as its
    bare JID); one JID counts as a list of one.
    """

    maxItems: int = 10000

    def convert(self, value: object) -> tuple[str, ...]:
        jids = []
        for item in StringList(maxItems=self.maxItems).convert(value):
            try:
                jids.append(JID(item).userhost())
            except (InvalidFormat, UnicodeError):
                raise ValueError(f"{item!r} is not a JID") from None
        return tuple(dict.fromkeys(jids))

    def describe(self) -> str:
        return "list of JIDs"


def _boolean(name: str, default: bool, doc: str) -> PluginOption:
    return PluginOption(name, Boolean(), default, doc)


OPTIONS = (
    PluginOption("name", String(), "Chatrooms", "the service's disco identity name"),
    PluginOption("admins", BareJIDs(), (), "bare JIDs that may always create rooms (and own every room)"),
    _boolean("component_admins_as_room_owners", True, "admins are owners of every room"),
    PluginOption(
        "restrict_room_creation",
        Choice((False, "admin", "local"), aliases={True: "admin"}),
        False,
        'who creates rooms: false (anyone), true or "admin" (admins), "local" (also users of the parent domain)',
    ),
    PluginOption("max_history_messages", Integer(0, 10000), 100, "the most history any room keeps"),
    _boolean("muc_room_locking", True, "a room made by a XEP-0045 client is locked until its owner configures it"),
    PluginOption("muc_room_lock_timeout", Integer(0, 86400), 300, "seconds after which a locked room unlocks"),
    _boolean("muc_tombstones", True, "a destroyed persistent room answers gone until its tombstone expires"),
    PluginOption("muc_tombstone_expiry", Integer(0), TOMBSTONE_EXPIRY, "seconds a tombstone is kept"),
    _boolean("muc_room_default_public", False, "new rooms are listed in disco#items"),
    _boolean("muc_room_default_persistent", False, "new rooms outlive their last occupant and restarts"),
    _boolean("muc_room_default_members_only", False, "new rooms admit members only"),
    _boolean("muc_room_default_moderated", False, "new rooms give visitors no voice"),
    _boolean("muc_room_default_public_jids", False, "new rooms show real JIDs to everyone"),
    _boolean("muc_room_default_allow_member_invites", False, "members of new members-only rooms may invite"),
    _boolean("muc_room_default_change_subject", False, "participants of new rooms may change the subject"),
    PluginOption("muc_room_default_history_length", Integer(0, 10000), 20, "messages of history for new occupants"),
    PluginOption("muc_room_default_language", String(64), None, "the language of new rooms (xml:lang, e.g. \"en\")"),
    PluginOption("muc_max_nick_length", Integer(1, 1023), 23, "the longest nick in bytes (affiliated users are exempt)"),
    PluginOption("muc_max_occupants", Integer(1, 100000), 1000, "the most occupants a room has"),
    PluginOption("muc_max_rooms", Integer(1, 10000000), 10000, "the most rooms the service holds"),
    _boolean(
        "enforce_registered_nickname",
        False,
        "a user with a reserved nick joins under it, and may not change to another",
    ),
    _boolean("allow_unaffiliated_register", False, "users with no affiliation may register a nick with a room"),
)


_PERIOD = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$")
_UNITS = {
    "": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "m": 30 * 86400, "month": 30 * 86400, "months": 30 * 86400,
    "y": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
}


def parsePeriod(value: object) -> int | None:
    """
    A Prosody period (C{604800}, C{"1w"}, C{"2d"}, C{"3m"} months, C{"1y"},
    C{"never"}) in seconds; C{None} for never.

    @raise ValueError: not a period.
    """
    if value is False or value == "never":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = _PERIOD.match(value.lower())
        if match and match.group(2) in _UNITS and int(match.group(1)) > 0:
            return int(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(f"{value!r} is not a period such as 604800, \"1w\" or \"never\"")


@implementer(IOptionType)
@attrs.frozen
class Period:
    """
    A Prosody period: seconds, C{"2d"}, C{"1w"}, C{"3m"} (months), C{"1y"}
    or C{"never"}.  Checked here and passed on as given: C{muc_mam} reads
    it with L{parsePeriod}.
    """

    def convert(self, value: object) -> object:
        parsePeriod(value)
        return value

    def describe(self) -> str:
        return 'period (seconds, "2d", "1w", "3m", "1y" or "never")'


MAM_OPTIONS = (
    _boolean("muc_log_by_default", True, "new rooms are archived"),
    _boolean("muc_log_all_rooms", False, "every room is archived; the room form has no archiving field"),
    PluginOption("muc_log_expires_after", Period(), "1w", "messages older than this are removed"),
    PluginOption("muc_log_cleanup_interval", Integer(1), 14400, "seconds between removals of expired messages"),
    PluginOption("max_archive_query_results", Integer(1, 10000), 50, "the largest page a query gets"),
)
