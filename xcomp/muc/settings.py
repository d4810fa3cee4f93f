# -*- test-case-name: xcomp.test.test_muc_settings -*-
"""
The settings of a C{muc} component and of its rooms.

L{ServiceOptions} reads the component's options with Prosody's names
(C{muc_room_default_public}, C{max_history_messages}, C{restrict_room_creation}
...) plus xcomp's limits; L{RoomConfig} is one room's configuration, and
L{configForm}/L{submitForm} turn it into and out of the XEP-0045
C{muc#roomconfig} data form.  Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, TypeVar, cast

import attrs
from twisted.words.protocols.jabber.jid import InvalidFormat, JID

from xcomp.muc.options import OPTIONS, TOMBSTONE_EXPIRY
from xcomp.plugin import convertOptions, data_form

NS_ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"

#: C{muc#roomconfig_whois} values.
WHOIS = ("moderators", "anyone")
#: C{muc#roomconfig_allowpm} values, from most to least open.
ALLOW_PM = ("anyone", "participants", "moderators", "none")

#: The longest room name, description or password.
MAX_TEXT = 1024

_T = TypeVar("_T")
_D = TypeVar("_D")


@attrs.frozen(kw_only=True)
class RoomConfig:
    """
    One room's configuration (what the owner's form sets).

    @ivar password: the room secret; empty when the room has none.
    @ivar whois: who sees occupants' real JIDs: C{"moderators"}
        (semi-anonymous) or C{"anyone"} (non-anonymous).
    @ivar allowPM: who may send private messages, one of L{ALLOW_PM}.
    @ivar historyLength: how many messages are kept for new occupants.
    @ivar maxUsers: the most occupants the room admits (owners and admins
        may still join, up to the service's hard limit).
    """

    name: str = ""
    description: str = ""
    persistent: bool = False
    public: bool = True
    membersOnly: bool = False
    moderated: bool = False
    password: str = ""
    whois: str = attrs.field(default="moderators", validator=attrs.validators.in_(WHOIS))
    allowInvites: bool = False
    allowPM: str = attrs.field(default="anyone", validator=attrs.validators.in_(ALLOW_PM))
    changeSubject: bool = False
    historyLength: int = 20
    maxUsers: int = 1000
    language: str = ""

    def toDict(self) -> dict[str, object]:
        """
        The configuration as JSON-able data, for storage.
        """
        return attrs.asdict(self)

    @classmethod
    def fromDict(cls, data: Mapping[str, object], default: RoomConfig) -> RoomConfig:
        """
        Read stored data; what is missing or unusable keeps C{default}'s
        value, so a database written by another version still loads.
        """
        # Each value has its field's type (checked below): Any, since a
        # type checker cannot follow that.
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = data.get(field.name)
            if value is not None and type(value) is type(getattr(default, field.name)):
                values[field.name] = value
        try:
            return attrs.evolve(default, **values)
        except ValueError:
            return default


@attrs.frozen(kw_only=True)
class ServiceOptions:
    """
    The options of one C{muc} component.

    @ivar name: the service's disco identity name (C{name}).
    @ivar admins: bare JIDs that own every room (C{admins}).
    @ivar restrictCreation: C{restrict_room_creation}: C{None} (anyone may
        create rooms), C{"admin"} (only L{admins}) or C{"local"} (also users
        of the parent domain, L{localDomain}).
    @ivar defaults: the configuration of a new room (C{muc_room_default_*}).
    @ivar maxHistory: C{max_history_messages}, the most history a room keeps.
    @ivar maxOccupants: C{muc_max_occupants}, the hard limit per room.
    @ivar maxRooms: C{muc_max_rooms}, the most rooms the service holds.
    @ivar locking: C{muc_room_locking}: a room made by a XEP-0045 client is
        locked until its owner submits the configuration form.
    @ivar lockTimeout: C{muc_room_lock_timeout}: seconds after which a room
        still locked unlocks (as in Prosody: others may then enter).
    @ivar adminsOwnRooms: C{component_admins_as_room_owners}: L{admins}
        are owners of every room (they may create rooms either way).
    @ivar maxNickLength: C{muc_max_nick_length}: the longest nick, in
        UTF-8 bytes, of an occupant with no affiliation.
    @ivar tombstones: C{muc_tombstones}: a destroyed persistent room answers
        C{gone} for L{tombstoneExpiry} seconds.
    """

    name: str = "Chatrooms"
    admins: frozenset[str] = frozenset()
    adminsOwnRooms: bool = True
    restrictCreation: str | None = None
    localDomain: str = ""
    defaults: RoomConfig = RoomConfig()
    maxHistory: int = 100
    maxOccupants: int = 1000
    maxRooms: int = 10000
    maxNickLength: int = 23
    locking: bool = True
    lockTimeout: int = 300
    tombstones: bool = True
    tombstoneExpiry: int = TOMBSTONE_EXPIRY

    @classmethod
    def fromOptions(cls, domain: str, options: Mapping[str, object]) -> ServiceOptions:
        """
        Read the component's options (L{xcomp.muc.options.OPTIONS}; the
        configuration loader has converted them already, but a mapping
        made in code may hold what a file would).

        @raise ValueError: an option has an unusable value (the text names it).
        """
        read = convertOptions(options, OPTIONS)
        maxHistory = cast(int, read["max_history_messages"])
        maxOccupants = cast(int, read["muc_max_occupants"])
        language = read["muc_room_default_language"]
        defaults = RoomConfig(
            persistent=bool(read["muc_room_default_persistent"]),
            public=bool(read["muc_room_default_public"]),
            membersOnly=bool(read["muc_room_default_members_only"]),
            moderated=bool(read["muc_room_default_moderated"]),
            whois="anyone" if read["muc_room_default_public_jids"] else "moderators",
            allowInvites=bool(read["muc_room_default_allow_member_invites"]),
            changeSubject=bool(read["muc_room_default_change_subject"]),
            historyLength=min(cast(int, read["muc_room_default_history_length"]), maxHistory),
            maxUsers=maxOccupants,
            language=language if isinstance(language, str) else "",
        )
        restrict = read["restrict_room_creation"]
        return cls(
            name=cast(str, read["name"]),
            admins=frozenset(cast("tuple[str, ...]", read["admins"])),
            adminsOwnRooms=bool(read["component_admins_as_room_owners"]),
            restrictCreation=restrict if isinstance(restrict, str) else None,
            localDomain=domain.partition(".")[2],
            defaults=defaults,
            maxHistory=maxHistory,
            maxOccupants=maxOccupants,
            maxRooms=cast(int, read["muc_max_rooms"]),
            maxNickLength=cast(int, read["muc_max_nick_length"]),
            locking=bool(read["muc_room_locking"]),
            lockTimeout=cast(int, read["muc_room_lock_timeout"]),
            tombstones=bool(read["muc_tombstones"]),
            tombstoneExpiry=cast(int, read["muc_tombstone_expiry"]),
        )

    def ownsRooms(self, bare: str) -> bool:
        """
        Whether C{bare} is an owner of every room: one of L{admins}, with
        C{component_admins_as_room_owners} on.
        """
        return self.adminsOwnRooms and bare in self.admins


class OptionReader:
    """
    Read a component's options; a refused value raises L{ValueError} naming
    the option.
    """

    def __init__(self, options: Mapping[str, object]) -> None:
        self._options = options

    def __call__(self, name: str, default: _D, convert: Callable[[object], _T]) -> _T | _D:
        """
        The option C{name} converted by C{convert} (which raises
        L{ValueError} for a value it refuses), or C{default} if it is unset.
        """
        if name not in self._options:
            return default
        value = self._options[name]
        try:
            return convert(value)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None


def asBoolean(value: object) -> bool:
    """
    A Prosody boolean: C{true}/C{false}, C{"true"}/C{"false"}, 1/0.
    """
    if value is True or value == "true" or (type(value) is int and value == 1):
        return True
    if value is False or value == "false" or (type(value) is int and value == 0):
        return False
    raise ValueError(f"{value!r} is not true or false")


def asInteger(lowest: int) -> Callable[[object], int]:
    """
    A converter to integers of at least C{lowest}.
    """

    def convert(value: object) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
            raise ValueError(f"{value!r} is not an integer of at least {lowest}")
        return value

    return convert


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _jids(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, tuple) else (value,)
    jids = []
    for item in items:
        try:
            jids.append(JID(_string(item)).userhost())
        except (InvalidFormat, UnicodeError):
            raise ValueError(f"{item!r} is not a JID") from None
    return tuple(jids)


def _restriction(value: object) -> str | None:
    if value is True or value == "admin":
        return "admin"
    if value == "local":
        return "local"
    if value is False or value is None:
        return None
    raise ValueError(f"{value!r} is not true, false, \"admin\" or \"local\"")


# The configuration form


def configForm(
    config: RoomConfig,
    options: ServiceOptions,
    extraFields: Iterable[data_form.Field] = (),
) -> data_form.Form:
    """
    The C{muc#roomconfig} form showing C{config}, for the owner to fill in.
    """
    maxUsers = sorted({n for n in (10, 20, 30, 50, 100, 200, 500, 1000) if n < options.maxOccupants}
                      | {options.maxOccupants, config.maxUsers})
    fields = [
        data_form.Field("text-single", "muc#roomconfig_roomname", config.name, label="Title"),
        data_form.Field("text-single", "muc#roomconfig_roomdesc", config.description, label="Description"),
        data_form.Field("text-single", "muc#roomconfig_lang", config.language, label="Language (xml:lang)"),
        data_form.Field("boolean", "muc#roomconfig_persistentroom", config.persistent,
                        label="Persistent (kept when the last occupant leaves)"),
        data_form.Field("boolean", "muc#roomconfig_publicroom", config.public,
                        label="Listed in the directory of rooms"),
        data_form.Field("boolean", "muc#roomconfig_membersonly", config.membersOnly, label="Members only"),
        data_form.Field("boolean", "muc#roomconfig_moderatedroom", config.moderated,
                        label="Moderated (only occupants with voice may speak)"),
        data_form.Field("boolean", "muc#roomconfig_passwordprotectedroom", bool(config.password),
                        label="Password protected"),
        data_form.Field("text-private", "muc#roomconfig_roomsecret", config.password, label="Password"),
        data_form.Field("list-single", "muc#roomconfig_whois", config.whois,
                        label="Who may see occupants' real addresses",
                        options={"moderators": "Moderators only", "anyone": "Anyone"}),
        data_form.Field("boolean", "muc#roomconfig_allowinvites", config.allowInvites,
                        label="Allow members to invite others"),
        data_form.Field("list-single", "muc#roomconfig_allowpm", config.allowPM,
                        label="Who may send private messages",
                        options={"anyone": "Anyone", "participants": "Participants",
                                 "moderators": "Moderators", "none": "No one"}),
        data_form.Field("boolean", "muc#roomconfig_changesubject", config.changeSubject,
                        label="Allow occupants to change the subject"),
        data_form.Field("text-single", "muc#roomconfig_historylength", str(config.historyLength),
                        label=f"Messages of history sent to new occupants (at most {options.maxHistory})"),
        data_form.Field("list-single", "muc#roomconfig_maxusers", str(config.maxUsers),
                        label="Maximum number of occupants",
                        options={str(n): str(n) for n in maxUsers}),
    ]
    fields.extend(extraFields)
    return data_form.Form(
        "form",
        title="Room configuration",
        formNamespace=NS_ROOMCONFIG,
        fields=fields,
    )


def formValues(form: data_form.Form) -> dict[str, list[str]]:
    """
    The submitted values of each field, as text.
    """
    return {var: [str(v) for v in field.values] for var, field in form.fields.items()}


def submitForm(
    config: RoomConfig, values: Mapping[str, list[str]], options: ServiceOptions
) -> RoomConfig:
    """
    Apply a submitted form to C{config}.  Fields not submitted keep their
    value; numbers above the service's limits are lowered to them.

    @raise ValueError: a field has an unusable value (the text says which).
    """

    def single(var: str) -> str | None:
        submitted = values.get(var)
        if not submitted:
            return None
        return submitted[0]

    def text(var: str, current: str) -> str:
        if var not in values:
            return current
        value = single(var) or ""
        if len(value) > MAX_TEXT:
            raise ValueError(f"{var}: longer than {MAX_TEXT} characters")
        return value

    def boolean(var: str, current: bool) -> bool:
        value = single(var)
        if value is None:
            return current
        if value in ("1", "true"):
            return True
        if value in ("0", "false"):
            return False
        raise ValueError(f"{var}: {value!r} is not a boolean")

    def number(var: str, current: int, lowest: int, highest: int) -> int:
        value = single(var)
        if value is None:
            return current
        try:
            parsed = int(value)
        except ValueError:
            raise ValueError(f"{var}: {value!r} is not a number") from None
        if parsed < lowest:
            raise ValueError(f"{var}: {value!r} is below {lowest}")
        return min(parsed, highest)

    def choice(var: str, current: str, allowed: tuple[str, ...]) -> str:
        value = single(var)
        if value is None:
            return current
        if value not in allowed:
            raise ValueError(f"{var}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def language(current: str) -> str:
        value = text("muc#roomconfig_lang", current).strip()
        if len(value) > 64:
            raise ValueError("muc#roomconfig_lang: longer than 64 characters")
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in value):
            raise ValueError("muc#roomconfig_lang: not a language tag")
        return value

    password = text("muc#roomconfig_roomsecret", config.password)
    if not boolean("muc#roomconfig_passwordprotectedroom", bool(password)):
        password = ""
    history = "muc#roomconfig_historylength"
    if history not in values:
        history = "muc#maxhistoryfetch"  # the name in XEP-0045's registry
    return attrs.evolve(
        config,
        name=text("muc#roomconfig_roomname", config.name),
        description=text("muc#roomconfig_roomdesc", config.description),
        language=language(config.language),
        persistent=boolean("muc#roomconfig_persistentroom", config.persistent),
        public=boolean("muc#roomconfig_publicroom", config.public),
        membersOnly=boolean("muc#roomconfig_membersonly", config.membersOnly),
        moderated=boolean("muc#roomconfig_moderatedroom", config.moderated),
        password=password,
        whois=choice("muc#roomconfig_whois", config.whois, WHOIS),
        allowInvites=boolean("muc#roomconfig_allowinvites", config.allowInvites),
        allowPM=choice("muc#roomconfig_allowpm", config.allowPM, ALLOW_PM),
        changeSubject=boolean("muc#roomconfig_changesubject", config.changeSubject),
        historyLength=number(history, config.historyLength, 0, options.maxHistory),
        maxUsers=number("muc#roomconfig_maxusers", config.maxUsers, 1, options.maxOccupants),
    )
