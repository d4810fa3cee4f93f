# -*- test-case-name: xcomp.test.test_reload_diff -*-
"""
What a reload changes: the difference between the running L{RouterConfig}
and the one just read, in the terms the service layer applies it in
(L{xcomp.reload}).  Pure: it compares frozen models and opens nothing.

Where a value was configured (its C{location}) is never a change: moving a
C{Component} block down the file leaves its component connected.
"""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

import attrs

from xcomp.config.model import (
    ComponentConfig,
    InternalComponentConfig,
    ListenerConfig,
    RouterConfig,
    VirtualHostConfig,
)

__all__ = ["ConfigDiff", "ListenerKey", "diffConfigs", "listenerKey"]

#: A listener is known by its address: the same (interface, port) in both
#: configurations is the same listener, whatever else changed.
ListenerKey = tuple[str, int]

_T = TypeVar("_T")


def listenerKey(listener: ListenerConfig) -> ListenerKey:
    """
    The address that identifies C{listener} across reloads.
    """
    return (listener.interface, listener.port)


def _compared(kind: Any) -> tuple[str, ...]:
    """
    The fields of an attrs model that say what it is: all but where it
    was configured, and but the options a component or host merely sees
    from the global section (they matter only through the settings already
    read out of them).
    """
    names = _COMPARED.get(kind)
    if names is None:
        names = _COMPARED[kind] = tuple(
            f.name for f in attrs.fields(kind) if f.name not in ("location", "options")
        )
    return names


_COMPARED: dict[type, tuple[str, ...]] = {}


def _differ(old: Any, new: Any) -> bool:
    """
    Whether two models of one kind differ in more than their placement.
    """
    if old == new:
        return False
    return any(getattr(old, name) != getattr(new, name) for name in _compared(type(old)))


def _listenerNeedsRebind(old: ListenerConfig, new: ListenerConfig) -> bool:
    """
    Whether the port itself must be opened again: what the endpoint is made
    of (TLS, C{SO_REUSEPORT}, the PROXY header) is fixed when it listens;
    every other option is read by the listener per connection.
    """
    return (old.tls, old.reusePort, old.proxyProtocol) != (new.tls, new.reusePort, new.proxyProtocol)


def _split(
    old: Mapping[str, _T], new: Mapping[str, _T]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """
    The keys added, removed, and present in both with a different value.
    """
    added = tuple(sorted(set(new) - set(old)))
    removed = tuple(sorted(set(old) - set(new)))
    changed = tuple(
        sorted(k for k in set(old) & set(new) if _differ(old[k], new[k]))
    )
    return added, removed, changed


@attrs.frozen(kw_only=True)
class ConfigDiff:
    """
    The changes between two configurations, each as sorted domains or
    listener addresses.

    @ivar componentsAdded: External components new in the configuration:
        their domains become bindable.
    @ivar componentsRemoved: External components no longer configured (or
        now internal): a stream bound to one ends with C{host-gone}.
    @ivar componentsChanged: External components whose settings changed
        (secret, conflict policy, ...): a connected one stays; the new
        settings apply from its next stream header on.
    @ivar internalAdded: Internal components to start.
    @ivar internalRemoved: Internal components to stop.
    @ivar internalRestarted: Internal components whose plugin or modules
        changed: stopped, then started with the new ones.
    @ivar internalKept: Internal components whose options changed but not
        their plugin or modules: kept running as they are (a restart would
        lose what they hold in memory, a MUC's rooms).
    @ivar hostsAdded: VirtualHosts to serve.
    @ivar hostsRemoved: VirtualHosts no longer served.
    @ivar hostsChanged: VirtualHosts whose name changed.
    @ivar listenersAdded: Addresses to start listening on.
    @ivar listenersRemoved: Addresses to stop listening on; the streams
        accepted there stay connected.
    @ivar listenersRebound: Addresses whose TLS, C{SO_REUSEPORT} or PROXY
        setting changed: the port is closed and opened again.
    @ivar listenersChanged: Addresses whose other options changed: they
        apply to the next connection there.
    @ivar logChanged: The log sinks or the lowest level changed.
    @ivar restartOnly: Settings that changed but take effect only when
        xcomp is restarted (C{xcomp_pidfile}, C{data_path}, s2s, the
        cluster, and a cluster node's internal components), by name.
    """

    componentsAdded: tuple[str, ...] = ()
    componentsRemoved: tuple[str, ...] = ()
    componentsChanged: tuple[str, ...] = ()
    internalAdded: tuple[str, ...] = ()
    internalRemoved: tuple[str, ...] = ()
    internalRestarted: tuple[str, ...] = ()
    internalKept: tuple[str, ...] = ()
    hostsAdded: tuple[str, ...] = ()
    hostsRemoved: tuple[str, ...] = ()
    hostsChanged: tuple[str, ...] = ()
    listenersAdded: tuple[ListenerKey, ...] = ()
    listenersRemoved: tuple[ListenerKey, ...] = ()
    listenersRebound: tuple[ListenerKey, ...] = ()
    listenersChanged: tuple[ListenerKey, ...] = ()
    logChanged: bool = False
    restartOnly: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """
        One phrase per kind of change, for the reload's log line and
        result; empty when nothing changed.
        """
        phrases = []

        def add(label: str, items: tuple[object, ...]) -> None:
            if items:
                shown = ", ".join(f"{i[0]}:{i[1]}" if isinstance(i, tuple) else str(i) for i in items)
                phrases.append(f"{label} {shown}")

        add("components added:", self.componentsAdded)
        add("components removed:", self.componentsRemoved)
        add("components changed:", self.componentsChanged)
        add("internal components started:", self.internalAdded)
        add("internal components stopped:", self.internalRemoved)
        add("internal components restarted:", self.internalRestarted)
        add("internal components kept as they run (options apply at restart):", self.internalKept)
        add("hosts added:", self.hostsAdded)
        add("hosts removed:", self.hostsRemoved)
        add("hosts changed:", self.hostsChanged)
        add("listening on:", self.listenersAdded)
        add("no longer listening on:", self.listenersRemoved)
        add("listening again on:", self.listenersRebound)
        add("listener options changed on:", self.listenersChanged)
        if self.logChanged:
            phrases.append("log levels or sinks changed")
        add("apply at restart only:", self.restartOnly)
        return phrases


def _byKind(
    components: Mapping[str, ComponentConfig | InternalComponentConfig],
) -> tuple[dict[str, ComponentConfig], dict[str, InternalComponentConfig]]:
    external: dict[str, ComponentConfig] = {}
    internal: dict[str, InternalComponentConfig] = {}
    for domain, component in components.items():
        if isinstance(component, InternalComponentConfig):
            internal[domain] = component
        else:
            external[domain] = component
    return external, internal


def diffConfigs(old: RouterConfig, new: RouterConfig) -> ConfigDiff:
    """
    What changes when C{new} replaces C{old}.
    """
    oldExternal, oldInternal = _byKind(old.components)
    newExternal, newInternal = _byKind(new.components)
    added, removed, changed = _split(oldExternal, newExternal)
    internalAdded, internalRemoved, internalChanged = _split(oldInternal, newInternal)
    restarted = tuple(
        d
        for d in internalChanged
        if (oldInternal[d].plugin, oldInternal[d].modules) != (newInternal[d].plugin, newInternal[d].modules)
    )
    hostsAdded, hostsRemoved, hostsChanged = _split(old.virtualHosts, new.virtualHosts)
    oldListeners = {listenerKey(l): l for l in old.listeners}
    newListeners = {listenerKey(l): l for l in new.listeners}
    both = sorted(set(oldListeners) & set(newListeners))
    rebound = tuple(k for k in both if _listenerNeedsRebind(oldListeners[k], newListeners[k]))
    listenersChanged = tuple(
        k for k in both if k not in rebound and oldListeners[k] != newListeners[k]
    )
    restartOnly = tuple(
        name
        for name, before, after in (
            ("xcomp_pidfile", old.pidfile, new.pidfile),
            ("data_path", old.dataPath, new.dataPath),
            ("s2s", old.s2s, new.s2s),
            ("cluster", old.cluster, new.cluster),
        )
        if before != after
    )
    if old.cluster is not None or new.cluster is not None:
        # A cluster node runs an internal component only while it holds the
        # component's claim (xcomp.cluster.standby); a reload does not start
        # or stop one behind the claim's back.
        moved = (*internalAdded, *internalRemoved, *restarted)
        restartOnly += tuple(f"internal component {domain}" for domain in moved)
        internalAdded = internalRemoved = restarted = ()
    return ConfigDiff(
        componentsAdded=added,
        componentsRemoved=removed,
        componentsChanged=changed,
        internalAdded=internalAdded,
        internalRemoved=internalRemoved,
        internalRestarted=restarted,
        internalKept=tuple(d for d in internalChanged if d not in restarted),
        hostsAdded=hostsAdded,
        hostsRemoved=hostsRemoved,
        hostsChanged=hostsChanged,
        listenersAdded=tuple(sorted(set(newListeners) - set(oldListeners))),
        listenersRemoved=tuple(sorted(set(oldListeners) - set(newListeners))),
        listenersRebound=rebound,
        listenersChanged=listenersChanged,
        logChanged=(old.log, old.logLevel) != (new.log, new.logLevel),
        restartOnly=restartOnly,
    )
