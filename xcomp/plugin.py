# -*- test-case-name: xcomp.test.test_plugins -*-
"""
Internal components as Twisted plugins (ARCHITECTURE.md, decision 5).

A plugin file in a C{twisted/plugins/} directory declares providers made
here, which import nothing of the component until it is used::

    from xcomp.plugin import ComponentModule, ComponentPlugin

    ping = ComponentPlugin(
        "ping", "xcomp_ping.component.makeComponent", "Answers XEP-0199 pings"
    )

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
 - L{Logger}: C{twisted.logger.Logger}, held back below the lowest level
   the configured log sinks want.
 - L{disco}, L{subprotocols}, L{data_form}: wokkel's modules, importable
   on current Twisted (the import of wokkel 18 alone fails there).

These names are imported on first use, so that the plugin files of every
C{twistd} command, which import this module, stay cheap.
"""

from __future__ import annotations

from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, TypeVar

import attrs
from twisted.plugin import IPlugin, getPlugins
from twisted.python.reflect import namedAny
from zope.interface import Interface, implementer

from xcomp.interfaces import IComponentModule, IComponentPlugin, IInternalComponent

if TYPE_CHECKING:
    from xcomp._wokkel import data_form, disco, subprotocols
    from xcomp.config import InternalComponentConfig, RouterConfig
    from xcomp.errors import bounce
    from xcomp.internal import InternalComponent
    from xcomp.logsinks import Logger
    from xcomp.stanza import COMPONENT_NS, Stanza, parseElement, quoteAttribute

__all__ = [
    "COMPONENT_NS",
    "ComponentModule",
    "ComponentPlugin",
    "DuplicatePluginError",
    "InternalComponent",
    "Logger",
    "Stanza",
    "bounce",
    "buildComponent",
    "checkModules",
    "data_form",
    "disco",
    "installedModules",
    "installedPlugins",
    "parseElement",
    "quoteAttribute",
    "subprotocols",
]

#: The names of the component API imported on first use, and the private
#: module each comes from.
_LAZY = {
    "COMPONENT_NS": "stanza",
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
    from xcomp import _wokkel, errors, internal, logsinks, stanza

    modules = {"_wokkel": _wokkel, "errors": errors, "internal": internal, "logsinks": logsinks, "stanza": stanza}
    value = getattr(modules[home], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


_P = TypeVar("_P", bound=Interface)


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
    """

    name: str
    factory: str
    description: str = ""

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
    """

    name: str
    components: tuple[str, ...] = attrs.field(converter=_names)
    factory: str
    description: str = ""

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

    label = f'Component "{component.domain}" "{component.plugin}"'
    options = dict(component.options)
    if dataPath is not None:
        options["data_path"] = dataPath
    frozen = MappingProxyType(options)
    plugin = plugins.get(component.plugin)
    if plugin is None:
        raise ConfigError(component.location, f"{label}: the plugin is not installed")
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
