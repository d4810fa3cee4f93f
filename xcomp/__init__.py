# -*- test-case-name: xcomp.test.test_service -*-
"""
xcomp: a pluggable XMPP component router built on Twisted.

External components connect over XEP-0114 (C{jabber:component:accept}); the
router forwards their stanzas as the bytes received and answers what it must
with RFC 6120 errors.

To embed xcomp in another Twisted application, build a L{RouterConfig} (by
hand, or with L{loadConfig} from a Prosody-style file) and add a
L{RouterService} made from it to your service tree::

    from xcomp import RouterService, loadConfig

    config = loadConfig("prosody.cfg.lua")
    RouterService(config).setServiceParent(application)

L{RouterService.router} is the L{Router}; see C{examples/embedded.py}.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xcomp.config import (
        ComponentConfig,
        ConfigError,
        ListenerConfig,
        RouterConfig,
        VirtualHostConfig,
        loadConfig,
    )
    from xcomp.router import Router
    from xcomp.service import RouterService
    from xcomp._version import __version__

# The names below are imported when first used, so that importing a small
# module of the package (as every twisted/plugins/ file does, for each twistd
# command) does not import the router and its configuration loader.
_LAZY = {
    "ComponentConfig": "xcomp.config",
    "ConfigError": "xcomp.config",
    "ListenerConfig": "xcomp.config",
    "RouterConfig": "xcomp.config",
    "VirtualHostConfig": "xcomp.config",
    "loadConfig": "xcomp.config",
    "Router": "xcomp.router",
    "RouterService": "xcomp.service",
    # In a module of its own so that xcomp.http can name it without this
    # package's exports (import-linter's layers).
    "__version__": "xcomp._version",
}


def __getattr__(name: str) -> object:
    """
    Import one of the names of C{__all__} on first use (PEP 562).
    """
    if name not in _LAZY:
        raise AttributeError(f"module 'xcomp' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "ComponentConfig",
    "ConfigError",
    "ListenerConfig",
    "Router",
    "RouterConfig",
    "RouterService",
    "VirtualHostConfig",
    "__version__",
    "loadConfig",
]
