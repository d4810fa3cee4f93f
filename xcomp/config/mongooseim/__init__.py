# -*- test-case-name: xcomp.test.test_tomlcfg,xcomp.test.test_tomlcfg_errors -*-
"""
Load MongooseIM's TOML configuration (C{mongooseim.toml}) into the same
frozen model as the Prosody loader: C{[general] hosts} become VirtualHosts,
C{general.loglevel} the lowest level logged
(L{xcomp.config.mongooseim.general}), each C{[[listen.component]]} a
L{ListenerConfig} (L{xcomp.config.mongooseim.listeners}), and
C{[shaper.NAME]}, C{[acl]} and C{[access]} the shapers, access classes and
access rules (L{xcomp.config.mongooseim.access}).

The sections and options MongooseIM has but xcomp does not use (C{[auth]},
C{[modules]}, C{[[listen.c2s]]}, C{hibernate_after}, ...) are accepted
silently, so that a MongooseIM file loads as it is; anything else is an
error, as is a value of the wrong type.

Errors read C{file:line: key.path: what is wrong}, with 1-based indexes for
arrays (C{listen.component[1]} is the first listener); the line is found in
the source text (L{xcomp.config.mongooseim.locate}), since C{tomllib}
reports no positions for keys.
"""

from __future__ import annotations

import re
import tomllib
from types import MappingProxyType
from typing import Mapping

from xcomp.config.model import DEFAULT_STANZA_SIZE_LIMIT, ConfigError, Location, RouterConfig
from xcomp.config.mongooseim.access import readACL, readRules, readShapers
from xcomp.config.mongooseim.checks import Checker
from xcomp.config.mongooseim.general import readGeneral
from xcomp.config.mongooseim.cluster import readCluster
from xcomp.config.mongooseim.http import readHTTP
from xcomp.config.mongooseim.listeners import INFINITE_STANZA_SIZE, ListenerReader
from xcomp.config.mongooseim.locate import showPath
from xcomp.config.mongooseim.s2s import readS2S

__all__ = ["loadTOML", "INFINITE_STANZA_SIZE", "showPath"]

#: The largest file read.
MAX_FILE_SIZE = 16 * 1024 * 1024

_SECTIONS = ("general", "listen", "shaper", "acl", "access", "s2s", "cluster")
# What MongooseIM has and xcomp does not use: accepted without a word.
_IGNORED_SECTIONS = frozenset(
    """auth internal_databases outgoing_pools services modules host_config
    instrumentation""".split()
)


def _build(source: str, text: str, document: Mapping[str, object]) -> RouterConfig:
    """
    Check a parsed TOML document and build the model.

    @param source: The file name for messages.
    @param text: Its text, to find lines in.
    @param document: What C{tomllib} made of it.
    """
    check = Checker(source, text)
    for key in document:
        if key not in _SECTIONS and key not in _IGNORED_SECTIONS:
            check.unknown((key,), [*_SECTIONS, *_IGNORED_SECTIONS])
    hosts, logLevel = readGeneral(check, document)
    shapers = readShapers(check, document)
    acl = readACL(check, document)
    rules = readRules(check, document, acl)
    listeners = ListenerReader(check, shapers, rules).listeners(document)
    limits = [l.stanzaSizeLimit for l in listeners if l.stanzaSizeLimit is not None]
    return RouterConfig(
        source=source,
        listeners=tuple(listeners),
        virtualHosts=MappingProxyType(hosts),
        logLevel=logLevel,
        stanzaSizeLimit=max(limits) if limits else DEFAULT_STANZA_SIZE_LIMIT,
        warnings=tuple(check.warnings),
        acl=MappingProxyType(acl),
        accessRules=MappingProxyType(rules),
        s2s=readS2S(check, document, hosts, shapers),
        http=readHTTP(check, document),
        cluster=readCluster(check, document),
    )


def loadTOML(source: str) -> RouterConfig:
    """
    Load a MongooseIM TOML file.

    @param source: The file name, as it should appear in messages.
    @raise ConfigError: For any mistake, as C{file:line: key.path: ...}.
    """
    try:
        with open(source, "rb") as f:
            data = f.read(MAX_FILE_SIZE + 1)
    except OSError as e:
        raise ConfigError(None, f"{source}: cannot read the configuration file: {e.strerror}") from None
    if len(data) > MAX_FILE_SIZE:
        raise ConfigError(None, f"{source}: larger than {MAX_FILE_SIZE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(Location(source, line), "the file is not valid UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        match = re.search(r"\(at line (\d+), column \d+\)$", str(e))
        line = int(match.group(1)) if match else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(e))
        message = re.sub(r"\s*\(at end of document\)$", "", message)
        raise ConfigError(Location(source, line), f"not valid TOML: {message}") from None
    return _build(source, text, document)
