# -*- test-case-name: xcomp.test.test_access -*-
"""
Access rules at run time: L{compileRule} turns a configured rule (the
L{xcomp.config.acl} model, MongooseIM's C{[acl]} and C{[access]}) into the
predicate the router runs for each stanza delivered to a guarded listener's
components.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Callable, Collection, Mapping

from twisted.words.protocols.jabber.jid import InvalidFormat, JID

from xcomp.config.acl import ALLOW_ALL, ACLPattern, AccessClause
from xcomp.stanza import Stanza

__all__ = ["compileRule", "patternMatcher"]


def _compileRegex(value: str | None) -> re.Pattern[str] | None:
    """
    Compile a regular expression condition (searched, as Erlang's C{re:run}
    does, not anchored).
    """
    return re.compile(value) if value is not None else None


def _compileGlob(value: str | None) -> re.Pattern[str] | None:
    """
    Compile a shell-style glob condition (matched against the whole part).
    """
    return re.compile(fnmatch.translate(value)) if value is not None else None


def patternMatcher(pattern: ACLPattern, hosts: Collection[str]) -> Callable[[JID], bool]:
    """
    Compile one pattern of an access class.

    @param pattern: The pattern.
    @param hosts: The configured hosts, for C{current_domain} and
        C{any_hosted_domain}.
    @return: A predicate on a parsed sender JID.
    """
    match = pattern.match
    serverSet = (pattern.server, pattern.serverRegex, pattern.serverGlob) != (None, None, None)
    if match is None:
        match = "all" if serverSet else "current_domain"
    if match == "none":
        return lambda jid: False
    hosted = frozenset(hosts) if match != "all" else None
    exact = (pattern.user, pattern.server, pattern.resource)
    searched = tuple(map(_compileRegex, (pattern.userRegex, pattern.serverRegex, pattern.resourceRegex)))
    globbed = tuple(map(_compileGlob, (pattern.userGlob, pattern.serverGlob, pattern.resourceGlob)))

    def matches(jid: JID) -> bool:
        parts = (jid.user or "", jid.host, jid.resource or "")
        if hosted is not None and jid.host not in hosted:
            return False
        for want, part in zip(exact, parts):
            if want is not None and want != part:
                return False
        for regex, part in zip(searched, parts):
            if regex is not None and regex.search(part) is None:
                return False
        for glob, part in zip(globbed, parts):
            if glob is not None and glob.match(part) is None:
                return False
        return True

    return matches


def compileRule(
    name: str,
    acl: Mapping[str, tuple[ACLPattern, ...]],
    rules: Mapping[str, tuple[AccessClause, ...]],
    hosts: Collection[str],
) -> Callable[[Stanza], bool] | None:
    """
    Compile the access rule C{name} into a predicate on the stanzas to be
    delivered: true when the sender (the stanza's C{from}) is allowed.

    @param acl: The access classes.
    @param rules: The access rules.
    @param hosts: The configured hosts.
    @return: L{None} when every sender is allowed (the built-in rule
        C{"all"}), so that the router does no work per stanza at all.
    @raise KeyError: If there is no such rule (the loaders check first).
    """
    if name == ALLOW_ALL and name not in rules:
        return None
    clauses = []
    for clause in rules[name]:
        if clause.acl == ALLOW_ALL and clause.acl not in acl:
            patterns: list[Callable[[JID], bool]] = [lambda jid: True]
        else:
            patterns = [patternMatcher(p, hosts) for p in acl.get(clause.acl, ())]
        clauses.append((patterns, clause.value == "allow"))

    def allowed(stanza: Stanza) -> bool:
        sender = stanza.attributes.get("from")
        if not sender:
            return False
        try:
            jid = JID(sender)
        except (InvalidFormat, UnicodeError):
            return False
        for patterns, verdict in clauses:
            for pattern in patterns:
                if pattern(jid):
                    return verdict
        return False

    return allowed
