# -*- test-case-name: xcomp.test.test_tomlcfg -*-
"""
C{[shaper.NAME]}, C{[acl]} and C{[access]}: the shapers, access classes and
access rules that listeners name.
"""

from __future__ import annotations

from typing import Mapping

from xcomp.config.acl import PATTERN_KEYS, ACLPattern, AccessClause, SpecError, patternFromMapping
from xcomp.config.model import ShaperConfig
from xcomp.config.mongooseim.checks import Checker, quote
from xcomp.config.mongooseim.locate import Path

__all__ = ["readACL", "readRules", "readShapers"]


def readShapers(check: Checker, document: Mapping[str, object]) -> dict[str, ShaperConfig]:
    """
    C{[shaper.NAME] max_rate = BYTES_PER_SECOND}.
    """
    section = check.table(document.get("shaper", {}), ("shaper",))
    shapers = {}
    for name, body in section.items():
        path: Path = ("shaper", name)
        body = check.table(body, path)
        if "max_rate" not in body:
            check.fail(path + ("max_rate",), "missing (bytes per second)")
        for key in body:
            if key != "max_rate":
                check.unknown(path + (key,), ["max_rate"])
        shapers[name] = ShaperConfig(name, check.count(body["max_rate"], path + ("max_rate",)))
    return shapers


def readACL(check: Checker, document: Mapping[str, object]) -> dict[str, tuple[ACLPattern, ...]]:
    """
    C{[acl]}: each access class is an array of patterns.
    """
    section = check.table(document.get("acl", {}), ("acl",))
    classes = {}
    for name, patterns in section.items():
        path: Path = ("acl", name)
        if not isinstance(patterns, list):
            check.fail(path, f"expected an array of patterns like [{{user = \"alice\"}}], not {quote(patterns)}")
        classes[name] = tuple(_pattern(check, p, path + (i,)) for i, p in enumerate(patterns))
    return classes


def _pattern(check: Checker, value: object, path: Path) -> ACLPattern:
    """
    One pattern of an access class.
    """
    table = check.table(value, path)
    try:
        return patternFromMapping(table)
    except SpecError as e:
        if e.key is not None and e.key not in PATTERN_KEYS:
            check.unknown(path + (e.key,), list(PATTERN_KEYS))
        check.fail(path + ((e.key,) if e.key else ()), e.message)


def readRules(
    check: Checker, document: Mapping[str, object], acl: Mapping[str, object]
) -> dict[str, tuple[AccessClause, ...]]:
    """
    C{[access]}: each rule is an array of C{{acl = ..., value = ...}}.

    @param acl: The access classes, which the clauses name.
    """
    section = check.table(document.get("access", {}), ("access",))
    rules = {}
    for name, clauses in section.items():
        path: Path = ("access", name)
        if not isinstance(clauses, list):
            check.fail(path, f'expected an array like [{{acl = "all", value = "allow"}}], not {quote(clauses)}')
        built = []
        for i, clause in enumerate(clauses):
            where = path + (i,)
            table = check.table(clause, where)
            for key in table:
                if key not in ("acl", "value"):
                    check.unknown(where + (key,), ["acl", "value"])
            for key in ("acl", "value"):
                if key not in table:
                    check.fail(where + (key,), "missing")
            aclName = check.string(table["acl"], where + ("acl",))
            value = table["value"]
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                check.fail(where + ("value",), f"expected a string or an integer, not {quote(value)}")
            if aclName != "all" and aclName not in acl:
                check.warn(where + ("acl",), f'there is no access class "{aclName}" in [acl]; this clause never matches')
            built.append(AccessClause(aclName, value))
        rules[name] = tuple(built)
    return rules
