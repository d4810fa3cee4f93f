"""
The plugin file: Twisted's plugin system imports it (cheaply: the provider
names the factory, which is imported only when a configuration uses it) and
C{twistd xcomp} finds C{ping} with C{getPlugins(IComponentPlugin)}.
"""

from xcomp.plugin import ComponentPlugin

ping = ComponentPlugin(
    "ping",
    "xcomp_ping.component.makeComponent",
    "Answers XEP-0199 pings (an example plugin)",
)
