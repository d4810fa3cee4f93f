# -*- test-case-name: xcomp.test.test_access -*-
"""
Access classes and access rules as configured, in MongooseIM's shape: the
value types both loaders build, and the parser of one pattern's table.

An access class (MongooseIM's C{[acl]} section) is a list of patterns; a JID
is in the class when it matches any of them, and it matches a pattern when it
meets every condition the pattern sets.  An access rule (C{[access]}) is a
list of clauses C{(class, value)}; the first clause whose class holds the JID
gives the value, and a JID no clause holds gets C{"deny"}.  L{xcomp.access}
compiles them into the predicate the router runs.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import attrs

__all__ = [
    "ACLPattern",
    "AccessClause",
    "ALLOW_ALL",
    "MATCHES",
    "PATTERN_KEYS",
    "SpecError",
    "patternFromMapping",
]

#: The values of a pattern's C{match}.
MATCHES = ("all", "none", "current_domain", "any_hosted_domain")

#: The name of the built-in rule that lets every sender through, and of the
#: built-in access class every JID is in.
ALLOW_ALL = "all"


@attrs.frozen(kw_only=True)
class ACLPattern:
    """
    One pattern of an access class.  Every condition that is set must hold.

    @ivar match: C{"all"}, C{"none"}, C{"current_domain"} or
        C{"any_hosted_domain"}.  L{None} means MongooseIM's default,
        C{"current_domain"}, unless a C{server} condition is set: then the
        server condition alone decides the domain (xcomp's senders are mostly
        components, whose domains are not hosted ones).  For xcomp both
        C{current_domain} and C{any_hosted_domain} mean "the domain is one of
        the configured hosts".
    @ivar user: The exact (nodeprep'd) user part.
    @ivar server: The exact (nameprep'd) domain.
    @ivar resource: The exact resource.
    @ivar userRegex: A regular expression searched in the user part.
    @ivar serverRegex: A regular expression searched in the domain.
    @ivar resourceRegex: A regular expression searched in the resource.
    @ivar userGlob: A glob the whole user part must match.
    @ivar serverGlob: A glob the whole domain must match.
    @ivar resourceGlob: A glob the whole resource must match.
    """

    match: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(MATCHES))
    )
    user: str | None = None
    server: str | None = None
    resource: str | None = None
    userRegex: str | None = None
    serverRegex: str | None = None
    resourceRegex: str | None = None
    userGlob: str | None = None
    serverGlob: str | None = None
    resourceGlob: str | None = None


@attrs.frozen
class AccessClause:
    """
    One clause of an access rule.

    @ivar acl: The access class; C{"all"} holds every JID.  A class that is
        not defined holds none (as in MongooseIM; the loaders warn).
    @ivar value: What the rule gives when the class holds the JID; for a
        listener's C{access} rule, C{"allow"} or C{"deny"}.
    """

    acl: str
    value: str | int


#: The keys of a pattern in the configuration, and the L{ACLPattern} field
#: each sets.  MongooseIM 4 and 5 spelled the regular expression keys
#: C{..._regexp}; both spellings are accepted.
PATTERN_KEYS = {
    "match": "match",
    "user": "user",
    "server": "server",
    "resource": "resource",
    "user_regex": "userRegex",
    "server_regex": "serverRegex",
    "resource_regex": "resourceRegex",
    "user_regexp": "userRegex",
    "server_regexp": "serverRegex",
    "resource_regexp": "resourceRegex",
    "user_glob": "userGlob",
    "server_glob": "serverGlob",
    "resource_glob": "resourceGlob",
}


class SpecError(ValueError):
    """
    A pattern in the configuration is wrong.

    @ivar key: The pattern key at fault, or L{None} for the whole pattern.
    @ivar message: What is wrong.
    """

    def __init__(self, key: str | None, message: str) -> None:
        """
        @param key: See L{key}.
        @param message: See L{message}.
        """
        super().__init__(key, message)
        self.key = key
        self.message = message


def patternFromMapping(table: Mapping[Any, object]) -> ACLPattern:
    """
    Build a pattern from its configuration table, preparing C{user},
    C{server} and C{resource} the way JIDs are compared.

    @raise SpecError: For an unknown key, a value that is not a string, a
        bad C{match}, regular expression or JID part.
    """
    from twisted.words.protocols.jabber.xmpp_stringprep import nameprep, nodeprep, resourceprep

    preps: dict[str, Any] = {"user": nodeprep, "server": nameprep, "resource": resourceprep}
    fields: dict[str, str] = {}
    for key, value in table.items():
        name = PATTERN_KEYS.get(key) if isinstance(key, str) else None
        if name is None:
            raise SpecError(str(key), "unknown key (known: " + ", ".join(PATTERN_KEYS) + ")")
        assert isinstance(key, str)
        if not isinstance(value, str):
            raise SpecError(key, "expected a string")
        if name == "match":
            if value not in MATCHES:
                raise SpecError(key, "expected " + ", ".join(f'"{m}"' for m in MATCHES))
        elif key in preps:
            try:
                value = preps[key].prepare(value)
            except UnicodeError as e:
                raise SpecError(key, f"not a valid {key}: {e}") from None
        elif "regex" in key:
            try:
                re.compile(value)
            except re.error as e:
                raise SpecError(key, f"not a regular expression: {e}") from None
        fields[name] = value
    return ACLPattern(**fields)
