# -*- test-case-name: xcomp.test.test_portoptions -*-
"""
C{acl} and C{access_rules}: MongooseIM's C{[acl]} and C{[access]} written
as Lua tables in the global section.
"""

from __future__ import annotations

from typing import Mapping

from xcomp.config.acl import ACLPattern, AccessClause, SpecError, patternFromMapping
from xcomp.config.lua import RawOption, RawSection
from xcomp.config.model import ConfigError, Location
from xcomp.config.values import quote

__all__ = ["readAccess"]


def readAccess(
    global_: RawSection, warnings: list[str]
) -> tuple[dict[str, tuple[ACLPattern, ...]], dict[str, tuple[AccessClause, ...]]]:
    """
    Read the access classes (C{acl}) and the access rules
    (C{access_rules}).

    @param global_: The global section.
    @param warnings: Where to add a warning for a clause naming no class.
    @return: The classes and the rules, by name.
    """
    classes = _classes(global_.options.get("acl"))
    return classes, _rules(global_.options.get("access_rules"), classes, warnings)


def _classes(option: RawOption | None) -> dict[str, tuple[ACLPattern, ...]]:
    """
    C{acl = { NAME = { PATTERN, ... } }}.
    """
    classes: dict[str, tuple[ACLPattern, ...]] = {}
    if option is None:
        return classes
    where = Location(option.file, option.line)
    for name, patterns in _namedLists(option, "acl", '{ { server = "..." } }').items():
        built = []
        for i, pattern in enumerate(patterns, 1):
            if not isinstance(pattern, Mapping):
                raise ConfigError(where, f"acl.{name}[{i}]: expected a table like {{ server = \"...\" }}")
            try:
                built.append(patternFromMapping(pattern))
            except SpecError as e:
                key = f".{e.key}" if e.key else ""
                raise ConfigError(where, f"acl.{name}[{i}]{key}: {e.message}") from None
        classes[name] = tuple(built)
    return classes


def _rules(
    option: RawOption | None,
    classes: Mapping[str, tuple[ACLPattern, ...]],
    warnings: list[str],
) -> dict[str, tuple[AccessClause, ...]]:
    """
    C{access_rules = { NAME = { { acl = CLASS; value = VALUE }, ... } }}.
    """
    rules: dict[str, tuple[AccessClause, ...]] = {}
    if option is None:
        return rules
    where = Location(option.file, option.line)
    example = '{ { acl = "all"; value = "allow" } }'
    for name, clauses in _namedLists(option, "access_rules", example).items():
        built = []
        for i, clause in enumerate(clauses, 1):
            label = f"access_rules.{name}[{i}]"
            if not isinstance(clause, Mapping) or set(clause) != {"acl", "value"}:
                raise ConfigError(where, f"{label}: expected a table like {{ acl = \"...\"; value = \"allow\" }}")
            acl, value = clause["acl"], clause["value"]
            if not isinstance(acl, str):
                raise ConfigError(where, f"{label}.acl: expected the name of an access class")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ConfigError(where, f"{label}.value: expected a string or an integer")
            if acl != "all" and acl not in classes:
                warnings.append(
                    f"{where}: {label}.acl: there is no access class {quote(acl)} in acl; "
                    "this clause never matches"
                )
            built.append(AccessClause(acl, value))
        rules[name] = tuple(built)
    return rules


def _namedLists(option: RawOption, name: str, example: str) -> Mapping[str, tuple[object, ...]]:
    """
    A table of name = { list }, as C{acl} and C{access_rules} are.
    """
    value = option.value
    if value == ():
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(
            Location(option.file, option.line),
            f"{name}: expected a table of names, like {{ trusted = {example} }}",
        )
    result = {}
    for key, item in value.items():
        if item == ():
            item = ()
        elif isinstance(item, Mapping):
            raise ConfigError(
                Location(option.file, option.line), f"{name}.{key}: expected a list like {example}"
            )
        elif not isinstance(item, tuple):
            item = (item,)
        result[key] = item
    return result
