"""
Tests for L{xcomp.config.prosody.listeners}: component ports, direct-TLS
ports and interfaces.
"""

from __future__ import annotations

from xcomp.config import ListenerConfig, TLSConfig
from xcomp.test.certs import TestCA
from xcomp.test.test_config import _ConfigTestCase


class ListenerTests(_ConfigTestCase):
    """
    C{component_ports} and C{component_interfaces}.
    """

    def test_default(self) -> None:
        """
        By default xcomp listens on 5347 on the IPv4 and IPv6 loopback.
        """
        self.assertEqual(
            self.load("").listeners,
            (ListenerConfig(5347, "127.0.0.1"), ListenerConfig(5347, "::1")),
        )

    def test_ports(self) -> None:
        """
        C{component_ports} is a number or a list; every port is combined with
        every interface.
        """
        config = self.load('component_ports = { 5347, "5348" }\ncomponent_interfaces = "10.0.0.1"\n')
        self.assertEqual(
            config.listeners, (ListenerConfig(5347, "10.0.0.1"), ListenerConfig(5348, "10.0.0.1"))
        )
        config = self.load('component_ports = 8888\ncomponent_interfaces = { "127.0.0.1" }\n')
        self.assertEqual(config.listeners, (ListenerConfig(8888, "127.0.0.1"),))

    def test_portOutOfRange(self) -> None:
        """
        A port outside 1-65535 is an error.
        """
        self.assertEqual(
            self.fails("\ncomponent_ports = { 5347, 70000 }\n"),
            self.at(2, "component_ports: 70000 is not a port number (1-65535)"),
        )

    def test_portNotNumber(self) -> None:
        """
        A port that is not a number is an error.
        """
        self.assertEqual(
            self.fails('component_ports = "five"\n'),
            self.at(1, 'component_ports: "five" is not a port number (1-65535)'),
        )

    def test_interfaces(self) -> None:
        """
        C{"*"} is every IPv4 address and C{"::"} every IPv6 address.
        """
        config = self.load('component_interfaces = { "*", "::" }\n')
        self.assertEqual(
            config.listeners, (ListenerConfig(5347, "0.0.0.0"), ListenerConfig(5347, "::"))
        )

    def test_interfaceNotAddress(self) -> None:
        """
        An interface that is not an IP address is an error.
        """
        self.assertEqual(
            self.fails('component_interfaces = { "localhost" }\n'),
            self.at(
                1,
                'component_interfaces: "localhost" is not an IP address (for example '
                '"127.0.0.1", "::1", or "*" for every IPv4 address)',
            ),
        )

    def test_interfaceFallbacks(self) -> None:
        """
        Prosody's fallbacks apply: C{component_interface}, then
        C{local_interfaces}.
        """
        self.assertEqual(
            self.load('component_interface = "10.0.0.2"\nlocal_interfaces = { "10.0.0.3" }\n').listeners,
            (ListenerConfig(5347, "10.0.0.2"),),
        )
        self.assertEqual(
            self.load('local_interfaces = { "10.0.0.3" }\n').listeners,
            (ListenerConfig(5347, "10.0.0.3"),),
        )

    def test_noIPv6(self) -> None:
        """
        C{use_ipv6 = false} leaves C{::1} out of the default interfaces.
        """
        self.assertEqual(
            self.load("use_ipv6 = false\n").listeners, (ListenerConfig(5347, "127.0.0.1"),)
        )

    def test_directTLSPorts(self) -> None:
        """
        C{component_direct_tls_ports} adds TLS listeners with the certificate
        of C{component_direct_tls_ssl}.
        """
        issued = TestCA(self.directory).issue("localhost")
        config = self.load(
            'component_interfaces = "127.0.0.1"\ncomponent_direct_tls_ports = 5348\n'
            f'component_direct_tls_ssl = {{ certificate = "{issued.certificate}"; key = "{issued.key}" }}\n'
        )
        self.assertEqual(
            config.listeners,
            (
                ListenerConfig(5347, "127.0.0.1"),
                ListenerConfig(5348, "127.0.0.1", TLSConfig(issued.certificate, issued.key)),
            ),
        )

    def test_directTLSWithoutCertificate(self) -> None:
        """
        TLS ports without a certificate are an error.
        """
        self.assertEqual(
            self.fails("\ncomponent_direct_tls_ports = { 5348 }\n"),
            self.at(
                2,
                "component_direct_tls_ports: no certificate; set component_direct_tls_ssl "
                'or ssl to { certificate = "..."; key = "..." }',
            ),
        )

    def test_directTLSPortAlsoPlain(self) -> None:
        """
        A port both plain and TLS is an error.
        """
        self.assertEqual(
            self.fails(
                'ssl = { certificate = "/c"; key = "/k" }\ncomponent_direct_tls_ports = { 5347 }\n'
            ),
            self.at(2, "component_direct_tls_ports: port 5347 is also in component_ports"),
        )
