# -*- test-case-name: xcomp.test.test_config -*-
"""
The router's configuration: a frozen model (L{xcomp.config.model}) loaded
from a Prosody-style C{prosody.cfg.lua} (evaluated as Lua by the
L{xcomp.config.lua} package, read with Prosody's scoping by the
L{xcomp.config.prosody} package) or from MongooseIM's TOML (the
L{xcomp.config.mongooseim} package, chosen by the C{.toml} extension).

Every mistake is a L{ConfigError} whose text starts with C{file:line:}.
Nothing here touches the reactor or the network, and nothing here imports
the runtime: the service layer reads the model, never the other way round.

Relative paths (C{ssl} files, C{log} files, C{pidfile}, C{data_path}) are
resolved against the directory of the top-level configuration file.
"""

from __future__ import annotations

import os
from typing import Collection, Mapping, Sequence

from twisted.python.filepath import FilePath

from xcomp.config.acl import ACLPattern, AccessClause
from xcomp.interfaces import IPluginOption
from xcomp.config.model import (
    CONFLICT_POLICIES,
    DEFAULT_CLUSTER_LEASE,
    DEFAULT_CLUSTER_STREAM_LENGTH,
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_MAX_OUTPUT_BUFFER,
    DEFAULT_PORT,
    DEFAULT_SEND_TIMEOUT,
    DEFAULT_STANZA_SIZE_LIMIT,
    DEFAULT_STATE_TIMEOUT,
    TLS_VERSIONS,
    VERIFY_MODES,
    ClusterConfig,
    ComponentConfig,
    ConfigError,
    HTTPHandlerConfig,
    HTTPListenerConfig,
    InternalComponentConfig,
    ListenerConfig,
    Location,
    LogSink,
    RouterConfig,
    ShaperConfig,
    TLSConfig,
    VirtualHostConfig,
)

__all__ = [
    "ACLPattern",
    "AccessClause",
    "CONFLICT_POLICIES",
    "DEFAULT_CLUSTER_LEASE",
    "DEFAULT_CLUSTER_STREAM_LENGTH",
    "DEFAULT_KEEPALIVE_INTERVAL",
    "DEFAULT_MAX_OUTPUT_BUFFER",
    "DEFAULT_PORT",
    "DEFAULT_SEND_TIMEOUT",
    "DEFAULT_STANZA_SIZE_LIMIT",
    "DEFAULT_STATE_TIMEOUT",
    "TLS_VERSIONS",
    "VERIFY_MODES",
    "ClusterConfig",
    "ComponentConfig",
    "ConfigError",
    "HTTPHandlerConfig",
    "HTTPListenerConfig",
    "InternalComponentConfig",
    "ListenerConfig",
    "Location",
    "LogSink",
    "RouterConfig",
    "ShaperConfig",
    "TLSConfig",
    "VirtualHostConfig",
    "loadConfig",
]


def loadConfig(
    path: str | os.PathLike[str] | FilePath[str],
    *,
    plugins: Collection[str] = (),
    modules: Collection[str] = (),
    pluginOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
    moduleOptions: Mapping[str, Sequence[IPluginOption]] | None = None,
) -> RouterConfig:
    """
    Load a configuration file: MongooseIM's TOML when its name ends in
    C{.toml}, else a Prosody-style Lua file.

    @param path: The C{prosody.cfg.lua} or C{mongooseim.toml} file.
    @param plugins: The names of the installed component plugins
        (C{Component "x" "plugin"}).
    @param modules: The names of the installed per-component modules
        (C{modules_enabled} under an internal component).
    @param pluginOptions: The options each plugin declares, by plugin name
        (L{xcomp.plugin.optionSchemas}); looked up only for the plugins the
        file uses.  Each declared option a component sees is converted (a
        refused value is a L{ConfigError} at the line that set it), set to
        its default when unset, and not warned about as unknown.
    @param moduleOptions: The same for modules.
    @return: The validated configuration; warnings are in
        L{RouterConfig.warnings}.
    @raise ConfigError: For any mistake, as C{file:line: what is wrong}.
    """
    # The loaders are imported when used: the runtime imports this package
    # for the model alone.  (lupa is loaded by the first Lua evaluation, so
    # TOML users never load it either way.)
    source = path.path if isinstance(path, FilePath) else os.fspath(path)
    if source.endswith(".toml"):
        from xcomp.config.mongooseim import loadTOML

        return loadTOML(source)
    from xcomp.config.prosody import loadProsody

    return loadProsody(source, plugins, modules, pluginOptions or {}, moduleOptions or {})
