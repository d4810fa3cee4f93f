# -*- test-case-name: xcomp.test.test_config_components -*-
"""
Build the hosts a Prosody-style file declares: C{VirtualHost} sections,
external components (C{Component "x"}, which need a secret) and internal
ones (C{Component "x" "plugin"}, whose plugin and modules must be
installed).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Collection, Mapping, Sequence, TypedDict

from xcomp.config.lua import RawSection
from xcomp.config.model import (
    CONFLICT_POLICIES,
    DEFAULT_HOLD_BYTES,
    DEFAULT_HOLD_STANZAS,
    DEFAULT_HOLD_TIME,
    DEFAULT_STANZA_SIZE_LIMIT,
    ComponentConfig,
    ConfigError,
    InternalComponentConfig,
    Location,
    TLSConfig,
    VirtualHostConfig,
)
from xcomp.config.prosody.options import Options
from xcomp.config.values import hostLabel, installed, parseSecret, parseSeconds, quote
from xcomp.interfaces import IPluginOption

__all__ = ["ComponentSettings", "HostReader"]


class ComponentSettings(TypedDict):
    """
    The settings every component has, external or internal.
    """

    name: str | None
    discoHidden: bool
    validateFrom: bool
    conflictResolve: str
    stanzaSizeLimit: int
    holdTime: float
    holdStanzas: int
    holdBytes: int
    tls: TLSConfig | None


def _location(section: RawSection) -> Location:
    """
    Where a host section was declared.
    """
    assert section.file is not None and section.line is not None
    return Location(section.file, section.line)


def _domain(section: RawSection) -> str:
    """
    The domain of a host section.
    """
    assert section.name is not None
    return section.name


class HostReader:
    """
    Build the model of each host section.
    """

    def __init__(
        self,
        options: Options,
        plugins: Collection[str],
        modules: Collection[str],
        pluginOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
        moduleOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
    ) -> None:
        """
        @param options: The configuration's options.
        @param plugins: The installed component plugin names.
        @param modules: The installed component module names.
        @param pluginOptions: The options each plugin declares, by name.
        @param moduleOptions: The options each module declares, by name.
        """
        self._options = options
        self._plugins = sorted(plugins)
        self._modules = sorted(modules)
        self._pluginOptions = pluginOptions or {}
        self._moduleOptions = moduleOptions or {}

    def declared(self, section: RawSection) -> list[IPluginOption]:
        """
        The options the plugin of an internal component section and its
        modules declare (none for other sections, or names not installed).
        """
        if section.kind != "Component" or section.module in (None, "component"):
            return []
        declared = list(self._pluginOptions.get(section.module, ()))
        option = section.options.get("modules_enabled")
        value = () if option is None else option.value
        for name in value if isinstance(value, tuple) else (value,):
            if isinstance(name, str):
                declared.extend(self._moduleOptions.get(name, ()))
        return declared

    def declaredNames(self, section: RawSection) -> frozenset[str]:
        """
        The names of L{declared}.
        """
        return frozenset(option.name for option in self.declared(section))

    def _converted(self, section: RawSection) -> Mapping[str, object]:
        """
        Every option an internal component sees, its declared ones converted
        (a refused value is an error at the line that set it, in the section
        or in the global one) or set to their defaults.
        """
        values = dict(self._options.visible(section))
        seen = set()
        for declared in self.declared(section):
            if declared.name in seen:
                continue
            seen.add(declared.name)
            option, _ = self._options.lookup(section, declared.name)
            if option is None:
                values[declared.name] = declared.default
                continue
            try:
                values[declared.name] = declared.convert(option.value)
            except ValueError as e:
                raise ConfigError(Location(option.file, option.line), f"{declared.name}: {e}") from None
        return MappingProxyType(values)

    def stanzaSizeLimit(self, section: RawSection) -> int:
        """
        C{component_stanza_size_limit}, else C{s2s_stanza_size_limit} (as
        Prosody's mod_component falls back), else 512 KiB.
        """
        fallback = self._options.integer(section, "s2s_stanza_size_limit", DEFAULT_STANZA_SIZE_LIMIT)
        return self._options.integer(section, "component_stanza_size_limit", fallback)

    def componentSettings(self, section: RawSection) -> ComponentSettings:
        """
        The settings every component has, as C{section} sees them (the global
        section gives the defaults).
        """

        def conflict(value: object) -> str:
            if value not in CONFLICT_POLICIES:
                raise ValueError(
                    f"{quote(value)} is not one of {', '.join(map(quote, CONFLICT_POLICIES))}"
                )
            return str(value)

        options = self._options
        return ComponentSettings(
            name=options.string(section, "name"),
            discoHidden=options.boolean(section, "disco_hidden", False),
            validateFrom=options.boolean(section, "validate_from_addresses", True),
            conflictResolve=options.read(
                section, "component_conflict_resolve", "kick_new", conflict, ""
            ),
            stanzaSizeLimit=self.stanzaSizeLimit(section),
            holdTime=options.read(
                section, "component_hold_time", DEFAULT_HOLD_TIME, parseSeconds, "a number of seconds"
            ),
            holdStanzas=options.integer(section, "component_hold_stanzas", DEFAULT_HOLD_STANZAS),
            holdBytes=options.integer(section, "component_hold_bytes", DEFAULT_HOLD_BYTES),
            tls=options.tls(section, "ssl"),
        )

    def virtualHost(self, section: RawSection) -> VirtualHostConfig:
        """
        Build a C{VirtualHost}.
        """
        return VirtualHostConfig(
            domain=_domain(section),
            name=self._options.string(section, "name"),
            options=self._options.visible(section),
            location=_location(section),
        )

    def external(self, section: RawSection) -> ComponentConfig:
        """
        Build an external component; it needs a secret.
        """
        settings = self.componentSettings(section)
        value = self._options.read(section, "component_secret", None, parseSecret, "")
        if value is None:
            raise ConfigError(
                _location(section),
                f"{hostLabel(section)}: no component_secret is set for this "
                "component or in the global section",
            )
        return ComponentConfig(
            domain=_domain(section),
            secret=value,
            options=self._options.visible(section),
            location=_location(section),
            **settings,
        )

    def internal(self, section: RawSection) -> InternalComponentConfig:
        """
        Build an internal component; its plugin and modules must be installed.
        """
        assert section.module is not None
        if section.module not in self._plugins:
            raise ConfigError(
                _location(section),
                f"{hostLabel(section)}: there is no component plugin "
                f"{quote(section.module)} ({installed(self._plugins, 'component plugins')})",
            )
        settings = self.componentSettings(section)
        return InternalComponentConfig(
            domain=_domain(section),
            plugin=section.module,
            modules=self._enabledModules(section),
            name=settings["name"],
            discoHidden=settings["discoHidden"],
            options=self._converted(section),
            location=_location(section),
        )

    def _enabledModules(self, section: RawSection) -> tuple[str, ...]:
        """
        An internal component's C{modules_enabled}, each installed.
        """
        option = section.options.get("modules_enabled")
        if option is None:
            return ()
        where = Location(option.file, option.line)
        prefix = f"{hostLabel(section)}: modules_enabled"
        value = option.value
        items = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(item, str) for item in items):
            raise ConfigError(where, f"{prefix}: expected a list of module names")
        for item in items:
            if item not in self._modules:
                raise ConfigError(
                    where,
                    f"{prefix}: module {quote(item)} is not installed "
                    f"({installed(self._modules, 'component modules')})",
                )
        return tuple(dict.fromkeys(items))
