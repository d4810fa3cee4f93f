"""
The plugin file: Twisted's plugin system imports it (cheaply: the provider
names the factory, which is imported only when a configuration uses it) and
C{twistd xcomp} finds C{ping} with C{getPlugins(IComponentPlugin)}.  The
options are declared here, so that C{twistd xcomp --list-plugins} shows them
without importing the component.
"""

from xcomp.plugin import ComponentPlugin, Float, PluginOption, String

ping = ComponentPlugin(
    "ping",
    "xcomp_ping.component.makeComponent",
    "Answers XEP-0199 pings (an example plugin)",
    options=(
        PluginOption("name", String(), "Ping responder", "the disco identity name"),
        PluginOption("pong_interval", Float(0, 60), 0.0, "seconds to wait before answering a ping"),
    ),
)
