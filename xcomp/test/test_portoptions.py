"""
Tests for the listener options in a Prosody-style configuration: the global
names, C{component_port_options = { [PORT] = { ... } }}, C{acl} and
C{access_rules}, Prosody's C{limits}, C{network_settings} and C{ssl}
tables, and every error message.
"""

from __future__ import annotations

import os

from xcomp.config.acl import ACLPattern, AccessClause
from xcomp.config import ListenerConfig, ShaperConfig, TLSConfig
from xcomp.test.certs import TestCA
from xcomp.test.test_config import _ConfigTestCase


class PortOptionTests(_ConfigTestCase):
    """
    Every option, globally and for one port.
    """

    def test_defaults(self) -> None:
        """
        Without any of the new options, listeners have the defaults of
        L{ListenerConfig}.
        """
        config = self.load('component_interfaces = "127.0.0.1"\n')
        self.assertEqual(config.listeners, (ListenerConfig(5347, "127.0.0.1"),))
        self.assertEqual(config.acl, {})
        self.assertEqual(config.accessRules, {})

    def test_globalOptions(self) -> None:
        """
        The global names set every port's options.
        """
        config = self.load(
            """
component_interfaces = "127.0.0.1"
component_ports = { 5347, 8888 }
component_password = "s3cret"
component_access = "components"
access_rules = { components = { { acl = "all"; value = "allow" } } }
limits = { c2s = { rate = "10kb/s" }; component = { rate = "10kb/s"; burst = "2s" } }
component_max_connections = 100
component_reuse_port = true
component_timeout = 10
network_settings = { read_timeout = 30; send_timeout = 20; max_send_buffer_size = 65536; tcp_backlog = 10 }
"""
        )
        expected = dict(
            password="s3cret",
            access="components",
            shaper=ShaperConfig("limits.component", 10240, 2.0),
            maxConnections=100,
            reusePort=True,
            stateTimeout=10.0,
            keepaliveInterval=30.0,
            sendTimeout=20.0,
            maxOutputBuffer=65536,
        )
        self.assertEqual(
            config.listeners,
            (
                ListenerConfig(5347, "127.0.0.1", **expected),  # type: ignore[arg-type]
                ListenerConfig(8888, "127.0.0.1", **expected),  # type: ignore[arg-type]
            ),
        )
        self.assertEqual(config.listeners[0].password, "s3cret")
        self.assertNotIn("s3cret", repr(config))

    def test_perPort(self) -> None:
        """
        C{component_port_options[PORT]} overrides the global options for
        that port, and sets the per-component ones for it.
        """
        config = self.load(
            """
component_interfaces = "127.0.0.1"
component_ports = { 5347, 8888 }
component_timeout = 10
component_port_options = {
    [8888] = {
        component_password = "s3cret";
        component_timeout = 3;
        validate_from_addresses = false;
        disco_hidden = true;
        component_conflict_resolve = "kick_old";
        component_stanza_size_limit = 4096;
        component_max_connections = 5;
        limits = { component = { rate = 1000 } };
    };
}
"""
        )
        first, second = config.listeners
        self.assertEqual(first, ListenerConfig(5347, "127.0.0.1", stateTimeout=10.0))
        self.assertEqual(
            second,
            ListenerConfig(
                8888,
                "127.0.0.1",
                password="s3cret",
                stateTimeout=3.0,
                checkFrom=False,
                hiddenComponents=True,
                conflictResolve="kick_old",
                stanzaSizeLimit=4096,
                maxConnections=5,
                shaper=ShaperConfig("limits.component", 1000, 1.0),
            ),
        )

    def test_componentDefaultsStayGlobal(self) -> None:
        """
        Globally, C{validate_from_addresses}, C{disco_hidden} and
        C{component_conflict_resolve} stay the components' defaults (and
        the settings of domains bound with a password); they do not become
        listener settings that would override a component's own.
        """
        config = self.load(
            'validate_from_addresses = false\ndisco_hidden = true\ncomponent_conflict_resolve = "kick_old"\n'
        )
        listener = config.listeners[0]
        self.assertEqual(
            (listener.checkFrom, listener.hiddenComponents, listener.conflictResolve), (None, False, None)
        )
        self.assertEqual(
            (config.validateFrom, config.discoHidden, config.conflictResolve), (False, True, "kick_old")
        )

    def test_aclAndAccessRules(self) -> None:
        """
        C{acl} and C{access_rules} have MongooseIM's shape as Lua tables.
        """
        config = self.load(
            """
acl = { trusted = { { server = "Bot.Example.ORG" }; { user = "admin"; match = "all" } } }
access_rules = { components = { { acl = "trusted"; value = "allow" }; { acl = "all"; value = "deny" } } }
"""
        )
        self.assertEqual(
            config.acl["trusted"],
            (ACLPattern(server="bot.example.org"), ACLPattern(user="admin", match="all")),
        )
        self.assertEqual(
            config.accessRules["components"],
            (AccessClause("trusted", "allow"), AccessClause("all", "deny")),
        )

    def test_directTLSOptions(self) -> None:
        """
        The C{ssl} table of a direct-TLS port takes Prosody's C{cafile},
        C{verify}, C{ciphers} and C{options}; the port's own C{ssl}, or a
        C{[PORT]} entry of C{component_direct_tls_ssl}, comes first.
        """
        ca = TestCA(self.directory)
        one, two = ca.issue("one.example"), ca.issue("two.example")
        config = self.load(
            f"""
component_interfaces = "127.0.0.1"
component_ports = {{}}
component_direct_tls_ports = {{ 5348, 5349 }}
component_direct_tls_ssl = {{
    certificate = "{one.certificate}"; key = "{one.key}";
    cafile = "{ca.path}"; verify = {{ "peer", "fail_if_no_peer_cert" }};
    ciphers = "ECDHE+AESGCM"; options = {{ "no_tlsv1_1" }};
}}
component_port_options = {{ [5349] = {{ ssl = {{ certificate = "{two.certificate}"; key = "{two.key}" }} }} }}
"""
        )
        first, second = config.listeners
        self.assertEqual(
            first.tls,
            TLSConfig(
                one.certificate,
                one.key,
                caCertificates=ca.path,
                verifyMode="peer",
                ciphers="ECDHE+AESGCM",
                protocolOptions=("no_tlsv1_1",),
            ),
        )
        self.assertEqual(second.tls, TLSConfig(two.certificate, two.key))

    def test_perPortSslTable(self) -> None:
        """
        Prosody's port manager reads C{*_ssl[PORT]}; so does xcomp.
        """
        issued = TestCA(self.directory).issue("localhost")
        config = self.load(
            f'component_interfaces = "127.0.0.1"\ncomponent_direct_tls_ports = {{ 5348 }}\n'
            f'component_direct_tls_ssl = {{ [5348] = {{ certificate = "{issued.certificate}"; key = "{issued.key}" }} }}\n'
        )
        self.assertEqual(config.listeners[1].tls, TLSConfig(issued.certificate, issued.key))

    def test_noWarnings(self) -> None:
        """
        The new names are known, global options.
        """
        config = self.load(
            'component_password = "x"\ncomponent_timeout = 3\nnetwork_settings = {}\nlimits = {}\n'
            "component_port_options = {}\nacl = {}\naccess_rules = {}\n"
        )
        self.assertEqual(config.warnings, ())

    def test_misplaced(self) -> None:
        """
        Under a Component, the listener options have no effect, and say so.
        """
        config = self.load('Component "a.example"\n  component_secret = "x"\n  component_timeout = 3\n')
        [warning] = config.warnings
        self.assertIn("option 'component_timeout' under Component \"a.example\" has no effect", warning)


class PortOptionErrorTests(_ConfigTestCase):
    """
    Every error message, with its line.
    """

    def assertError(self, text: str, line: int, message: str) -> None:
        """
        Loading C{text} fails with C{message} at C{line}.
        """
        self.assertEqual(self.fails(text), self.at(line, message))

    def test_portOptionsShape(self) -> None:
        """
        C{component_port_options} is a table of tables keyed by configured
        ports, with known option names.
        """
        self.assertError(
            "component_port_options = 5\n",
            1,
            "component_port_options: expected a table of ports, like { [5347] = { component_timeout = 10 } }",
        )
        self.assertError(
            "\ncomponent_port_options = { [9999] = {} }\n",
            2,
            "component_port_options: port 9999 is not in component_ports or component_direct_tls_ports",
        )
        self.assertError(
            "component_port_options = { [5347] = 3 }\n",
            1,
            "component_port_options[5347]: expected a table of options",
        )
        self.assertError(
            "component_port_options = { [5347] = { component_timout = 3 } }\n",
            1,
            "component_port_options[5347]: unknown option 'component_timout' (did you mean 'component_timeout'?)",
        )

    def test_values(self) -> None:
        """
        Values of the wrong type, globally and per port.
        """
        self.assertError("component_password = true\n", 1, "component_password: expected a string, not a boolean")
        self.assertError('component_password = ""\n', 1, "component_password: the secret is empty")
        self.assertError("component_timeout = -1\n", 1, "component_timeout: -1 is not a number of seconds")
        self.assertError('component_reuse_port = "maybe"\n', 1, 'component_reuse_port: "maybe" is not true or false')
        self.assertError(
            "component_max_connections = 0\n", 1, "component_max_connections: 0 is not an integer of at least 1"
        )
        self.assertError(
            "component_port_options = { [5347] = { validate_from_addresses = 2 } }\n",
            1,
            "component_port_options[5347].validate_from_addresses: 2 is not true or false",
        )
        self.assertError(
            'component_port_options = { [5347] = { component_conflict_resolve = "x" } }\n',
            1,
            'component_port_options[5347].component_conflict_resolve: "x" is not one of "kick_new", "kick_old", "balance"',
        )

    def test_networkSettings(self) -> None:
        """
        C{network_settings} is a table of numbers.
        """
        self.assertError("network_settings = 3\n", 1, "network_settings: expected a table, not 3")
        self.assertError(
            'network_settings = { read_timeout = "long" }\n',
            1,
            'network_settings: read_timeout: "long" is not a number of seconds',
        )
        self.assertError(
            "network_settings = { max_send_buffer_size = 0 }\n",
            1,
            "network_settings: max_send_buffer_size: 0 is not an integer of at least 1",
        )

    def test_limits(self) -> None:
        """
        C{limits.component} needs a rate, and a burst if any in seconds.
        """
        self.assertError(
            'limits = { component = { rate = "fast" } }\n',
            1,
            'limits: component.rate: "fast" is not a rate like "10kb/s" or a number of bytes per second',
        )
        self.assertError(
            'limits = { component = { rate = "1kb/s"; burst = "soon" } }\n',
            1,
            'limits: component.burst: "soon" is not a duration like "2s"',
        )
        self.assertError(
            "limits = { component = 5 }\n",
            1,
            'limits: component: expected a table like { rate = "10kb/s"; burst = "2s" }',
        )

    def test_access(self) -> None:
        """
        C{component_access} must name a rule of C{access_rules} that gives
        C{"allow"} or C{"deny"}.
        """
        self.assertError(
            'component_access = "nosuch"\n', 1, 'component_access: there is no access rule "nosuch" in access_rules'
        )
        self.assertError(
            'access_rules = { r = { { acl = "all"; value = 3 } } }\ncomponent_access = "r"\n',
            2,
            'component_access: access_rules.r[1].value: expected "allow" or "deny", not 3',
        )

    def test_aclShape(self) -> None:
        """
        C{acl} and C{access_rules} errors name the entry.
        """
        self.assertError(
            "acl = 3\n", 1, 'acl: expected a table of names, like { trusted = { { server = "..." } } }'
        )
        self.assertError(
            'acl = { t = { { usr = "x" } } }\n',
            1,
            "acl.t[1].usr: unknown key (known: match, user, server, resource, user_regex, server_regex, "
            "resource_regex, user_regexp, server_regexp, resource_regexp, user_glob, server_glob, resource_glob)",
        )
        self.assertError('acl = { t = { 5 } }\n', 1, 'acl.t[1]: expected a table like { server = "..." }')
        self.assertError(
            'access_rules = { r = { { acl = "all" } } }\n',
            1,
            'access_rules.r[1]: expected a table like { acl = "..."; value = "allow" }',
        )
        self.assertError(
            'access_rules = { r = { { acl = 1; value = "allow" } } }\n',
            1,
            "access_rules.r[1].acl: expected the name of an access class",
        )
        self.assertError(
            'access_rules = { r = { { acl = "all"; value = true } } }\n',
            1,
            "access_rules.r[1].value: expected a string or an integer",
        )

    def test_unknownAccessClassWarns(self) -> None:
        """
        A clause naming an access class that does not exist is warned about.
        """
        config = self.load('access_rules = { r = { { acl = "nosuch"; value = "allow" } } }\n')
        self.assertEqual(
            config.warnings,
            (self.at(1, 'access_rules.r[1].acl: there is no access class "nosuch" in acl; this clause never matches'),),
        )

    def test_tls(self) -> None:
        """
        A certificate that cannot be loaded stops loading, naming the file;
        so does a bad C{verify}.
        """
        missing = os.path.abspath(os.path.join(self.directory, "missing.pem"))
        self.assertError(
            f'component_direct_tls_ports = 5348\n\ncomponent_direct_tls_ssl = {{ certificate = "{missing}"; key = "k" }}\n',
            3,
            f"component_direct_tls_ssl: cannot read the certificate {missing}: No such file or directory",
        )
        self.assertError(
            'component_direct_tls_ports = 5348\nssl = { certificate = "c"; key = "k"; verify = "always" }\n',
            2,
            'ssl: verify: expected "none", "peer", "selfsigned_peer", not "always"',
        )
