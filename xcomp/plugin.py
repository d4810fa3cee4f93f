# -*- test-case-name: xcomp.test.test_plugins -*-
"""
Internal components as Twisted plugins (ARCHITECTURE.md, decision 5).

A plugin file in a C{twisted/plugins/} directory declares providers made
here, which import nothing of the component until it is used::

    from xcomp.plugin import ComponentModule, ComponentPlugin

    ping = ComponentPlugin(
        "ping", "xcomp_ping.component.makeComponent", "Answers XEP-0199 pings",
        options="xcomp_ping.component.OPTIONS",
    )

C{options} declares the plugin's options (L{PluginOption}s, or the name
of a sequence of them, imported when a configuration uses the plugin): the
configuration loaders convert each at its own line and do not warn about
them as unknown, and C{--list-plugins} shows them.

L{installedPlugins} and L{installedModules} find every provider with
C{twisted.plugin.getPlugins}, xcomp's own C{muc} and C{muc_mam} included.

This module is also the API a component is written against; a plugin
imports from here (and from L{xcomp.interfaces}) only, as xcomp's own
C{muc} does::

    from xcomp.plugin import InternalComponent, Logger, disco, subprotocols

    def makeComponent(domain, options, router):
        component = InternalComponent(domain, router)
        PingHandler().setHandlerParent(component)
        disco.DiscoHandler().setHandlerParent(component)
        return component

 - L{InternalComponent}: the service a plugin's factory returns, an
   ordinary wokkel handler collection whose handlers send and receive
   through the router.
 - L{Stanza}, L{COMPONENT_NS}, L{quoteAttribute}, L{parseElement}: the
   routed unit (the bytes of a stanza with its top-level attributes), the
   namespace of the component stream, the quoting of an attribute value
   into bytes, and the parsing of one serialised element.
 - L{bounce}: the error reply to a stanza, or C{None} for one that must
   not be answered (errors, iq results).
 - L{PluginOption}, L{Boolean}, L{Integer}, L{Float}, L{String},
   L{Choice}, L{StringList}: declared options and their types, and
   L{convertOptions}, which applies them to a mapping
   (L{xcomp.pluginoptions}).
 - L{implementer}: C{zope.interface.implementer}, for C{disco.IDisco}.
 - L{Logger}: C{twisted.logger.Logger}, held back below the lowest level
   the configured log sinks want.
 - L{disco}, L{subprotocols}, L{data_form}: wokkel's modules, importable
   on current Twisted (the import of wokkel 18 alone fails there).

These names are imported on first use, so that the plugin files of every
C{twistd} command, which import this module, stay cheap.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, TypeVar

import attrs
from twisted.plugin import IPlugin, getPlugins
from twisted.python.reflect import namedAny
from zope.interface import Interface, implementer

from xcomp.interfaces import IComponentModule, IComponentPlugin, IInternalComponent, IPluginOption

if TYPE_CHECKING:
    from xcomp._wokkel import data_form, disco, subprotocols
    from xcomp.config import InternalComponentConfig, RouterConfig
    from xcomp.errors import bounce
    from xcomp.internal import InternalComponent
    from xcomp.logsinks import Logger
    from xcomp.pluginoptions import Boolean, Choice, Float, Integer, PluginOption, String, StringList, convertOptions
    from xcomp.stanza import COMPONENT_NS, Stanza, parseElement, quoteAttribute

__all__ = [
    "Boolean",
    "COMPONENT_NS",
    "Choice",
    "ComponentModule",
    "ComponentPlugin",
    "DuplicatePluginError",
    "Float",
    "Integer",
    "InternalComponent",
    "Logger",
    "PluginOption",
    "Stanza",
    "String",
    "StringList",
    "bounce",
    "buildComponent",
    "checkModules",
    "convertOptions",
    "data_form",
    "declaredOptions",
    "disco",
    "implementer",
    "installedModules",
    "installedPlugins",
    "optionSchemas",
    "parseElement",
    "quoteAttribute",
    "subprotocols",
]

#: The names of the component API imported on first use, and the private
#: module each comes from.
_LAZY = {
    "Boolean": "pluginoptions",
    "COMPONENT_NS": "stanza",
    "Choice": "pluginoptions",
    "Float": "pluginoptions",
    "Integer": "pluginoptions",
    "PluginOption": "pluginoptions",
    "String": "pluginoptions",
    "StringList": "pluginoptions",
    "convertOptions": "pluginoptions",
    "InternalComponent": "internal",
    "Logger": "logsinks",
    "Stanza": "stanza",
    "bounce": "errors",
    "data_form": "_wokkel",
    "disco": "_wokkel",
    "parseElement": "stanza",
    "quoteAttribute": "stanza",
    "subprotocols": "_wokkel",
}


def __getattr__(name: str) -> object:
    """
    Import a name of the component API on first use (PEP 562).
    """
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Written out, not through importlib, so that import-linter sees them.
    if home == "pluginoptions":
        # Alone: a plugin file may declare its options inline, and must stay
        # cheap to import.
        from xcomp import pluginoptions

        value = getattr(pluginoptions, name)
        globals()[name] = value
        return value
    from xcomp import _wokkel, errors, internal, logsinks, pluginoptions, stanza

    modules = {
        "_wokkel": _wokkel,
        "errors": errors,
        "internal": internal,
        "logsinks": logsinks,
        "pluginoptions": pluginoptions,
        "stanza": stanza,
    }
    value = getattr(modules[home], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


_P = TypeVar("_P", bound=Interface)


def _declared(options: Iterable[IPluginOption] | str) -> tuple[IPluginOption, ...] | str:
    """
    Declared options as a tuple, or the name of where they are (an attrs
    converter).
    """
    return options if isinstance(options, str) else tuple(options)


def _resolve(options: tuple[IPluginOption, ...] | str) -> tuple[IPluginOption, ...]:
    """
    Declared options, imported first when given by name.
    """
    if isinstance(options, str):
        found: Iterable[IPluginOption] = namedAny(options)
        return tuple(found)
    return options


def declaredOptions(provider: object) -> tuple[IPluginOption, ...]:
    """
    The options a plugin or module declares; none for a provider written
    before plugins could declare options (it has no C{options}).
    """
    return tuple(getattr(provider, "options", ()))


class _DeclaredOptions(Mapping[str, tuple[IPluginOption, ...]]):
    """
    The options of each provider by name, resolved when looked up (so that
    only the plugins a configuration uses are imported).
    """

    def __init__(self, providers: Mapping[str, object]) -> None:
        self._providers = providers

    def __getitem__(self, name: str) -> tuple[IPluginOption, ...]:
        return declaredOptions(self._providers[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)


def optionSchemas(providers: Mapping[str, object]) -> Mapping[str, tuple[IPluginOption, ...]]:
    """
    The declared options of plugins or modules by name, for
    L{xcomp.config.loadConfig}'s C{pluginOptions}/C{moduleOptions}; each is
    resolved (and a schema given by name imported) when first looked up.
    """
    return _DeclaredOptions(providers)


def _names(names: Iterable[str]) -> tuple[str, ...]:
    """
    Any iterable of names as a tuple (an attrs converter that type checkers
    can read, unlike C{tuple} itself).
    """
    return tuple(names)


@implementer(IPlugin, IComponentPlugin)
@attrs.frozen
class ComponentPlugin:
    """
    A lazy L{IComponentPlugin}: names the function that makes the component,
    imported the first time a configuration uses it.

    @ivar name: the name in C{Component "x" "name"}.
    @ivar factory: the fully qualified name of a callable with the
        signature of L{IComponentPlugin.makeComponent}.
    @ivar description: one line for C{--list-plugins}.
    @ivar options: the L{IPluginOption}s it declares; given as a sequence,
        or as the fully qualified name of one (imported when first read).
    """

    name: str
    factory: str
    description: str = ""
    _options: tuple[IPluginOption, ...] | str = attrs.field(default=(), alias="options", converter=_declared)

    @property
    def options(self) -> tuple[IPluginOption, ...]:
        return _resolve(self._options)

    def makeComponent(self, domain: str, options: Mapping[str, object], router: object) -> object:
        """
        Import L{factory} and call it.
        """
        make: Callable[[str, Mapping[str, object], object], object] = namedAny(self.factory)
        return make(domain, options, router)


@implementer(IPlugin, IComponentModule)
@attrs.frozen
class ComponentModule:
    """
    A lazy L{IComponentModule}.

    @ivar name: the name in C{modules_enabled}.
    @ivar components: the plugin names it extends.
    @ivar factory: the fully qualified name of a callable with the
        signature of L{IComponentModule.attach}.
    @ivar description: one line for C{--list-plugins}.
    @ivar options: as for L{ComponentPlugin}.
    """

    name: str
    components: tuple[str, ...] = attrs.field(converter=_names)
    factory: str
    description: str = ""
    _options: tuple[IPluginOption, ...] | str = attrs.field(default=(), alias="options", converter=_declared)

    @property
    def options(self) -> tuple[IPluginOption, ...]:
        return _resolve(self._options)

    def attach(self, component: object, options: Mapping[str, object]) -> None:
        """
        Import L{factory} and call it.
        """
        attach: Callable[[object, Mapping[str, object]], None] = namedAny(self.factory)
        attach(component, options)


class DuplicatePluginError(Exception):
    """
    Two different installed providers use the same name.
    """


def _byName(interface: type[_P], package: ModuleType | None) -> dict[str, _P]:
    """
    Every provider of C{interface}, by name.  The same provider found twice
    (one plugin directory on the path twice) counts once.
    """
    found: dict[str, _P] = {}
    if package is None:
        providers: Iterable[_P] = getPlugins(interface)
    else:
        providers = getPlugins(interface, package)
    for provider in providers:
        name = provider.name  # type: ignore[attr-defined]
        if name in found and found[name] != provider:
            raise DuplicatePluginError(
                f"two installed plugins are named {name!r}: {found[name]!r} and {provider!r}"
            )
        found[name] = provider
    return dict(sorted(found.items()))


def installedPlugins(package: ModuleType | None = None) -> dict[str, IComponentPlugin]:
    """
    The installed component plugins by name, sorted.

    @param package: the plugin package to search; C{twisted.plugins} (every
        C{twisted/plugins/} directory on C{sys.path}) by default.
    @raise DuplicatePluginError: two plugins share a name.
    """
    return _byName(IComponentPlugin, package)


def installedModules(package: ModuleType | None = None) -> dict[str, IComponentModule]:
    """
    The installed component modules by name, sorted.

    @param package: as for L{installedPlugins}.
    @raise DuplicatePluginError: two modules share a name.
    """
    return _byName(IComponentModule, package)


def checkModules(config: RouterConfig, modules: Mapping[str, IComponentModule]) -> None:
    """
    Check that each internal component's modules can extend its plugin.

    L{xcomp.config.loadConfig} has already checked that every name is
    installed.

    @raise xcomp.config.ConfigError: at the component's line, naming the
        module and the plugins it extends.
    """
    # Imported here: plugin files import this module, and must stay cheap.
    from xcomp.config import ConfigError, InternalComponentConfig

    for component in config.components.values():
        if not isinstance(component, InternalComponentConfig):
            continue
        for name in component.modules:
            module = modules.get(name)
            mismatch = None if module is None else _moduleMismatch(component, module)
            if mismatch is not None:
                raise ConfigError(component.location, mismatch)


def _moduleMismatch(component: InternalComponentConfig, module: IComponentModule) -> str | None:
    """
    Why C{module} cannot extend C{component}, or C{None} if it can.
    """
    if component.plugin in module.components:
        return None
    supported = ", ".join(repr(p) for p in module.components) or "none"
    return (
        f'Component "{component.domain}" "{component.plugin}": module '
        f"{module.name!r} cannot extend a {component.plugin!r} component "
        f"(it extends: {supported})"
    )


def buildComponent(
    component: InternalComponentConfig,
    router: object,
    plugins: Mapping[str, IComponentPlugin],
    modules: Mapping[str, IComponentModule],
    dataPath: str | None = None,
) -> IInternalComponent:
    """
    Make one configured internal component with its plugin and attach its
    modules.

    @param dataPath: the absolute C{data_path}, given to the plugin and the
        modules as the C{data_path} option.
    @raise xcomp.config.ConfigError: the plugin or a module is missing or
        refuses an option, at the component's C{file:line}.
    """
    from xcomp.config import ConfigError

    from xcomp.pluginoptions import convertOptions

    label = f'Component "{component.domain}" "{component.plugin}"'
    options = dict(component.options)
    if dataPath is not None:
        options["data_path"] = dataPath
    plugin = plugins.get(component.plugin)
    if plugin is None:
        raise ConfigError(component.location, f"{label}: the plugin is not installed")
    declared = list(declaredOptions(plugin))
    for name in component.modules:
        declared += declaredOptions(modules.get(name))
    # The loader converted them already, at each option's own line; this is
    # for configurations made in code.
    try:
        frozen = convertOptions(options, declared)
    except ValueError as e:
        raise ConfigError(component.location, f"{label}: {e}") from None
    try:
        service = plugin.makeComponent(component.domain, frozen, router)
    except ValueError as e:
        raise ConfigError(component.location, f"{label}: {e}") from None
    if not IInternalComponent.providedBy(service):
        raise TypeError(f"{plugin!r} made {service!r}, which does not provide IInternalComponent")
    for name in component.modules:
        module = modules.get(name)
        if module is None:
            raise ConfigError(component.location, f"{label}: module {name!r} is not installed")
        mismatch = _moduleMismatch(component, module)
        if mismatch is not None:
            raise ConfigError(component.location, mismatch)
        try:
            module.attach(service, frozen)
        except ValueError as e:
            raise ConfigError(component.location, f"{label}: {name}: {e}") from None
    return service
