# -*- test-case-name: xcomp.test.test_config -*-
"""
Build the L{xcomp.config} model from a Prosody-style file evaluated by
L{xcomp.config.lua}, with Prosody's scoping: a C{Component} or
C{VirtualHost} sees its own options first and the global section's after
(L{xcomp.config.prosody.options}).

The hosts (L{xcomp.config.prosody.hosts}), the listeners
(L{xcomp.config.prosody.listeners}), the C{log} option
(L{xcomp.config.prosody.log}), the access classes and rules
(L{xcomp.config.prosody.access}) and the warnings about option names
(L{xcomp.config.prosody.checks}) are each read by their own module;
L{Builder} puts them together with the global settings.
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Collection, Mapping, Sequence

from xcomp.config import lua
from xcomp.config.model import (
    DEFAULT_HOLD_TOTAL_BYTES,
    ComponentConfig,
    ConfigError,
    InternalComponentConfig,
    Location,
    LogSink,
    RouterConfig,
    VirtualHostConfig,
)
from xcomp.config.prosody.access import readAccess
from xcomp.config.prosody.checks import checkNames
from xcomp.config.prosody.hosts import HostReader
from xcomp.config.prosody.cluster import readCluster
from xcomp.config.prosody.http import readHTTP
from xcomp.config.prosody.listeners import readListeners
from xcomp.config.prosody.log import facility, logSinks
from xcomp.config.prosody.options import Options
from xcomp.config.prosody.s2s import offNotice, readS2S
from xcomp.interfaces import IPluginOption

__all__ = ["Builder", "loadProsody"]


class Builder:
    """
    Turn an evaluated configuration into a L{RouterConfig}.
    """

    def __init__(
        self,
        raw: lua.RawConfig,
        plugins: Collection[str],
        modules: Collection[str],
        pluginOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
        moduleOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
    ) -> None:
        """
        @param raw: The evaluated file.
        @param plugins: The installed component plugin names.
        @param modules: The installed component module names.
        @param pluginOptions: The options each plugin declares.
        @param moduleOptions: The options each module declares.
        """
        self._raw = raw
        self._global = raw.sections[0]
        self._options = Options(self._global, os.path.dirname(os.path.abspath(raw.source)))
        self._hosts = HostReader(self._options, plugins, modules, pluginOptions or {}, moduleOptions or {})
        self._warnings = [
            f"{Location(w.file, w.line)}: {w.message}" for w in raw.warnings
        ]

    def build(self) -> RouterConfig:
        """
        Read every section and build the model.
        """
        declared = {id(s): self._hosts.declaredNames(s) for s in self._raw.sections[1:]}
        # A global option is known when a component that sees it declares it.
        declared[id(self._global)] = frozenset().union(*declared.values())
        for section in self._raw.sections:
            self._warnings.extend(checkNames(section, self._global, declared[id(section)]))
        options, defaults = self._options, self._global
        # Validate the global defaults of per-host options even when no host
        # uses them, so a mistake there is found at once.
        common = self._hosts.componentSettings(defaults)
        components: dict[str, ComponentConfig | InternalComponentConfig] = {}
        hosts: dict[str, VirtualHostConfig] = {}
        enabled: dict[str, lua.RawSection] = {}
        for section in self._raw.sections[1:]:
            assert section.name is not None
            if not options.boolean(section, "enabled", True):
                continue
            enabled[section.name] = section
            if section.kind == "VirtualHost":
                hosts[section.name] = self._hosts.virtualHost(section)
            elif section.module in (None, "component"):
                components[section.name] = self._hosts.external(section)
            else:
                components[section.name] = self._hosts.internal(section)
        pidfile = options.string(defaults, "xcomp_pidfile")
        dataPath = options.string(defaults, "data_path")
        acl, accessRules = readAccess(defaults, self._warnings)
        listeners = readListeners(options, accessRules)
        http = readHTTP(options, self._warnings)
        return RouterConfig(
            source=self._raw.source,
            listeners=listeners,
            virtualHosts=MappingProxyType(hosts),
            components=MappingProxyType(components),
            stanzaSizeLimit=self._hosts.stanzaSizeLimit(defaults),
            log=self._log(),
            pidfile=options.path(pidfile) if pidfile else None,
            dataPath=options.path(dataPath) if dataPath else None,
            warnings=tuple(self._warnings),
            notices=tuple(self._prosodysOwn()),
            options=options.visible(defaults),
            validateFrom=common["validateFrom"],
            discoHidden=common["discoHidden"],
            conflictResolve=common["conflictResolve"],
            holdTime=common["holdTime"],
            holdStanzas=common["holdStanzas"],
            holdBytes=common["holdBytes"],
            holdTotalBytes=options.integer(
                defaults, "component_hold_total_bytes", DEFAULT_HOLD_TOTAL_BYTES
            ),
            acl=MappingProxyType(acl),
            accessRules=MappingProxyType(accessRules),
            s2s=readS2S(options, enabled, frozenset(hosts)),
            http=http,
            cluster=readCluster(options),
        )

    def _prosodysOwn(self) -> list[str]:
        """
        A line for each of Prosody's own C{pidfile} and C{log} in the file,
        which xcomp leaves to Prosody: a file shared with a running Prosody
        must not make xcomp take over its pidfile or write into its log.
        """
        found = self._global.options
        notices = []
        if "pidfile" in found:
            option = found["pidfile"]
            notices.append(
                f"{Location(option.file, option.line)}: pidfile is Prosody's; xcomp leaves it alone "
                "(xcomp_pidfile, or twistd's --pidfile, is xcomp's own)"
            )
        if "log" in found and "xcomp_log" not in found:
            option = found["log"]
            notices.append(
                f"{Location(option.file, option.line)}: log is Prosody's; xcomp logs where twistd does "
                "(xcomp_log, in the same forms, adds xcomp's own)"
            )
        s2sOff = offNotice(self._options)
        if s2sOff is not None:
            notices.append(s2sOff)
        return notices

    def _log(self) -> tuple[LogSink, ...]:
        """
        The C{xcomp_log} option, in the forms Prosody documents for C{log}.
        """
        debug = self._options.boolean(self._global, "debug", False)
        syslogFacility = "daemon"
        facilityOption = self._global.options.get("syslog_facility")
        if facilityOption is not None:
            try:
                syslogFacility = facility(facilityOption.value)
            except ValueError as e:
                raise ConfigError(
                    Location(facilityOption.file, facilityOption.line), str(e)
                ) from None
        option = self._global.options.get("xcomp_log")
        if option is None:
            # twistd's own log (--logfile, --syslog) is where Prosody's
            # default console output would go; no second sink.
            return ()
        try:
            return logSinks(
                option.value, "debug" if debug else "info", self._options.path, syslogFacility
            )
        except ValueError as e:
            raise ConfigError(Location(option.file, option.line), f"xcomp_log: {e}") from None


def loadProsody(
    source: str,
    plugins: Collection[str],
    modules: Collection[str],
    pluginOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
    moduleOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
) -> RouterConfig:
    """
    Load a Prosody-style file: evaluate it as Lua (L{lua.evaluate}), then
    build the model.

    @param source: The file name, as messages should give it.
    @param plugins: The installed component plugin names.
    @param modules: The installed component module names.
    @param pluginOptions: The options each plugin declares.
    @param moduleOptions: The options each module declares.
    @raise ConfigError: For any mistake, as C{file:line: what is wrong}.
    """
    try:
        raw = lua.evaluate(source)
    except lua.EvaluationError as e:
        location = None
        if e.file is not None and e.line is not None:
            location = Location(e.file, e.line)
        elif e.file is not None:
            raise ConfigError(None, f"{e.file}: {e.message}") from None
        raise ConfigError(location, e.message) from None
    return Builder(raw, plugins, modules, pluginOptions, moduleOptions).build()
