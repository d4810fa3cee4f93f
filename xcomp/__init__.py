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

__version__ = "0.1.0.dev0"
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
