# -*- test-case-name: xcomp.test.test_config_s2s -*-
"""
Tests for L{xcomp.config.prosody.s2s}: when s2s is on, its options and
defaults, the certificates found as Prosody finds them, and the
C{file:line:} errors of bad values.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SkipTest

from xcomp.config import RouterConfig, loadConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig, ShaperConfig, TLSConfig
from xcomp.test.test_config import _ConfigTestCase

HOSTS = 'component_secret = "s"\nVirtualHost "example.org"\nComponent "conference.example.org" "muc"\nComponent "bot.other.org"\n'


class S2STests(_ConfigTestCase):
    """
    The s2s settings of a Prosody-style file.
    """

    def s2s(self, text: str, after: str = "") -> S2SConfig:
        """
        Load C{text}, the test's hosts, then C{after}; s2s must be on.
        """
        config: RouterConfig = self.load(text + HOSTS + after, plugins=["muc"])
        assert config.s2s is not None
        return config.s2s

    def test_offWithoutOptions(self) -> None:
        """
        A file that sets no s2s option has no s2s: nothing would listen on
        5269 (a running Prosody's own port).
        """
        config = self.load('ssl = { cafile = "/etc/ssl/certs/ca.pem" }\n' + HOSTS, plugins=["muc"])
        self.assertIsNone(config.s2s)

    def test_onWithPorts(self) -> None:
        """
        C{s2s_ports} turns s2s on, with Prosody's defaults: encryption
        required, secure auth off; on loopback.
        """
        s2s = self.s2s("s2s_ports = { 5269 }\n")
        self.assertEqual(
            s2s.listeners, (S2SListenerConfig(5269, "127.0.0.1"), S2SListenerConfig(5269, "::1"))
        )
        self.assertTrue(s2s.requireEncryption)
        self.assertFalse(s2s.secureAuth)
        self.assertEqual(s2s.timeout, 90.0)
        self.assertIsNone(s2s.dialbackSecret)
        self.assertEqual(s2s.location and s2s.location.line, 1)

    def test_onWithDirectTLSPorts(self) -> None:
        """
        C{s2s_direct_tls_ports} alone asks for a listener too: s2s is on,
        with Prosody's 5269 beside the direct TLS port.
        """
        s2s = self.s2s('s2s_direct_tls_ports = { 5270 }\ns2s_interfaces = { "127.0.3.9" }\n')
        self.assertEqual(
            s2s.listeners,
            (S2SListenerConfig(5269, "127.0.3.9"), S2SListenerConfig(5270, "127.0.3.9", directTLS=True)),
        )

    def test_otherOptionsOnlyConfigure(self) -> None:
        """
        The s2s options that ask for no listener (Debian's stock
        C{s2s_secure_auth = true}, C{s2s_interfaces}, the dialback secret,
        ...) leave s2s off, and one notice at the first of them says so;
        with C{s2s_ports} added, the same lines configure it and the
        notice is gone.
        """
        lines = 'limits = { s2sin = { rate = "30kb/s" } }\ns2s_secure_auth = true\ns2s_interfaces = { "*" }\ndialback_secret = "x"\n'
        config = self.load(lines + HOSTS, plugins=["muc"])
        self.assertIsNone(config.s2s)
        self.assertEqual(
            [n for n in config.notices if "federation" in n],
            [self.at(2, "s2s_secure_auth is set but s2s_ports is not: federation is off (s2s_ports = { 5269 } turns it on)")],
        )
        self.assertEqual(config.warnings, ())
        on = self.load(lines + "s2s_ports = 5269\n" + HOSTS, plugins=["muc"])
        assert on.s2s is not None
        self.assertTrue(on.s2s.secureAuth)
        self.assertEqual([n for n in on.notices if "federation" in n], [])

    def test_noNoticeWithoutOptions(self) -> None:
        """
        A file that never mentions s2s gets no notice about it, nor one
        that disables it.
        """
        self.assertEqual(self.load(HOSTS, plugins=["muc"]).notices, ())
        disabled = self.load('s2s_secure_auth = true\nmodules_disabled = { "s2s" }\n' + HOSTS, plugins=["muc"])
        self.assertEqual(disabled.notices, ())

    def test_offValuesStillChecked(self) -> None:
        """
        A bad value is an error even while s2s is off: it shows now, not
        on the day C{s2s_ports} is added.
        """
        error = self.fails('s2s_timeout = "soon"\n' + HOSTS, plugins=["muc"])
        self.assertTrue(error.startswith(self.at(1, 's2s_timeout: "soon" is not a number of seconds')), error)

    def test_modulesDisabled(self) -> None:
        """
        C{modules_disabled = { "s2s" }} turns s2s off, as in Prosody.
        """
        config = self.load('s2s_ports = { 5269 }\nmodules_disabled = { "s2s" }\n' + HOSTS, plugins=["muc"])
        self.assertIsNone(config.s2s)

    def test_options(self) -> None:
        """
        Every option, converted.
        """
        s2s = self.s2s(
            's2s_ports = { 5270 }\ns2s_direct_tls_ports = { 5271 }\ns2s_interfaces = { "127.0.3.9" }\n'
            "s2s_require_encryption = false\ns2s_secure_auth = true\n"
            's2s_secure_domains = { "Secure.Example" }\ns2s_insecure_domains = { "old.example" }\n'
            's2s_timeout = 30\ndialback_secret = "sesame"\n'
            's2s_connect_overrides = { ["example.net"] = { "127.0.0.1", 5999 }; ["b.example"] = { "localhost" } }\n'
            "s2s_stanza_size_limit = 10000\n"
            'limits = { s2sin = { rate = "10kb/s"; burst = "2s" } }\n'
        )
        self.assertEqual(
            s2s.listeners,
            (S2SListenerConfig(5270, "127.0.3.9"), S2SListenerConfig(5271, "127.0.3.9", directTLS=True)),
        )
        self.assertFalse(s2s.requireEncryption)
        self.assertTrue(s2s.secureAuth)
        self.assertEqual(s2s.secureDomains, {"secure.example"})
        self.assertEqual(s2s.insecureDomains, {"old.example"})
        self.assertEqual(s2s.timeout, 30.0)
        self.assertEqual(s2s.dialbackSecret, "sesame")
        self.assertEqual(
            dict(s2s.connectOverrides), {"example.net": ("127.0.0.1", 5999), "b.example": ("localhost", 5269)}
        )
        self.assertEqual(s2s.stanzaSizeLimit, 10000)
        self.assertEqual(s2s.shaper, ShaperConfig("limits.s2sin", 10240, 2.0))

    def test_secretNotShown(self) -> None:
        """
        The dialback secret is not in the model's repr.
        """
        self.assertNotIn("sesame", repr(self.s2s('s2s_ports = 5269\ndialback_secret = "sesame"\n')))

    def test_certificatesDirectory(self) -> None:
        """
        The C{certificates} directory holds C{<domain>.crt}/C{.key} or
        C{<domain>/fullchain.pem}/C{privkey.pem}; a direct subdomain of a
        VirtualHost uses the host's; the global C{ssl} is the last resort;
        C{ssl.cafile} is the trust store.
        """
        certs = os.path.join(os.path.abspath(self.directory), "certs")
        self.write("certs/example.org.crt", "")
        self.write("certs/example.org.key", "")
        self.write("certs/bot.other.org/fullchain.pem", "")
        self.write("certs/bot.other.org/privkey.pem", "")
        s2s = self.s2s('s2s_ports = 5269\nssl = { cafile = "ca.pem" }\n')
        self.assertEqual(
            {d: (t.certificate, t.key) for d, t in s2s.certificates.items()},
            {
                "example.org": (f"{certs}/example.org.crt", f"{certs}/example.org.key"),
                "conference.example.org": (f"{certs}/example.org.crt", f"{certs}/example.org.key"),
                "bot.other.org": (f"{certs}/bot.other.org/fullchain.pem", f"{certs}/bot.other.org/privkey.pem"),
            },
        )
        self.assertEqual(s2s.caCertificates, os.path.join(os.path.abspath(self.directory), "ca.pem"))

    def test_ownSSLWins(self) -> None:
        """
        A component's own C{ssl} wins over its VirtualHost's certificate; a
        domain with nothing else gets the global C{ssl}; C{certificates}
        may name another directory.
        """
        self.write("tls/example.org.crt", "")
        self.write("tls/example.org.key", "")
        s2s = self.s2s(
            's2s_ports = 5269\ncertificates = "tls"\nssl = { certificate = "g.crt"; key = "g.key" }\n',
            'Component "chat.example.org" "muc"\n  ssl = { certificate = "c.crt"; key = "c.key" }\n',
        )
        directory = os.path.abspath(self.directory)
        path = lambda name: os.path.join(directory, name)  # noqa: E731
        self.assertEqual(s2s.certificates["chat.example.org"], TLSConfig(path("c.crt"), path("c.key")))
        self.assertEqual(s2s.certificates["conference.example.org"].certificate, path("tls/example.org.crt"))
        self.assertEqual(s2s.certificates["bot.other.org"], TLSConfig(path("g.crt"), path("g.key")))
        self.assertIsNone(s2s.caCertificates)

    def test_noCertificate(self) -> None:
        """
        A domain with no certificate anywhere has none (it may still use
        dialback).
        """
        self.assertEqual(dict(self.s2s("s2s_ports = 5269\n").certificates), {})

    def test_badValues(self) -> None:
        """
        Each bad value is an error at its line.
        """
        cases = [
            ('s2s_ports = { "x" }\n', 's2s_ports: "x" is not a port number (1-65535)'),
            ('s2s_interfaces = { "eth0" }\n', 's2s_interfaces: "eth0" is not an IP address'),
            ("s2s_ports = 5269\ns2s_direct_tls_ports = 5269\n", "s2s_direct_tls_ports: port 5269 is also in s2s_ports"),
            ('s2s_secure_auth = "maybe"\n', 's2s_secure_auth: "maybe" is not true or false'),
            ("s2s_timeout = 0\n", "s2s_timeout: 0 is not a number of seconds above 0"),
            ('s2s_timeout = "soon"\n', 's2s_timeout: "soon" is not a number of seconds'),
            ('dialback_secret = ""\n', "dialback_secret: the secret is empty"),
            ("s2s_secure_domains = { 1 }\n", 's2s_secure_domains: expected a list of domains like { "example.net" }, not 1'),
            ('s2s_connect_overrides = { ["a.example"] = { "h", 0 } }\n', 's2s_connect_overrides: "a.example": 0 is not a port number (1-65535)'),
            ('s2s_connect_overrides = { ["a.example"] = { 1, 2, 3 } }\n', 's2s_connect_overrides: "a.example": expected { "host", port }, not { 1, 2, 3 }'),
            ('s2s_connect_overrides = "x"\n', 's2s_connect_overrides: expected a table, not "x"'),
            ('s2s_ports = 5269\nlimits = { s2sin = { rate = "fast" } }\n', 'limits: s2sin.rate: "fast" is not a rate like "10kb/s" or a number of bytes per second'),
            ('s2s_ports = 5269\nssl = { cafile = 3 }\n', "ssl: cafile must be a file name"),
        ]
        for text, message in cases:
            error = self.fails(text + HOSTS, plugins=["muc"])
            line = text.count("\n")
            self.assertTrue(error.startswith(self.at(line, message)), (error, message))

    def test_noUnknownWarnings(self) -> None:
        """
        The s2s options are known: no warning about them.
        """
        config = self.load(
            's2s_ports = 5269\ndialback_secret = "x"\ns2s_connect_overrides = {}\ns2s_insecure_domains = {}\n' + HOSTS,
            plugins=["muc"],
        )
        self.assertEqual(config.warnings, ())


DEBIAN_CONFIG = "/etc/prosody/prosody.cfg.lua"


class DebianStockTests(_ConfigTestCase):
    """
    Debian's own prosody.cfg.lua, as installed with the package.
    """

    def setUp(self) -> None:
        """
        Skip without the file.
        """
        if not os.path.exists(DEBIAN_CONFIG):
            raise SkipTest(f"{DEBIAN_CONFIG} is not installed (apt-get install prosody)")
        super().setUp()
        with open(DEBIAN_CONFIG, encoding="utf-8") as f:
            self.text = f.read()

    def test_stockConfigLeavesFederationOff(self) -> None:
        """
        The stock file sets s2s options (C{s2s_secure_auth}) but no
        C{s2s_ports}: xcomp pointed at it starts no s2s listener, so it
        does not collide with the running Prosody's 5269, and its notices
        say why at the option's real line.
        """
        config = loadConfig(DEBIAN_CONFIG, plugins=["muc"])
        self.assertIsNone(config.s2s)
        setLines = [
            (number, line.split("=")[0].strip())
            for number, line in enumerate(self.text.splitlines(), 1)
            if line.startswith("s2s_")
        ]
        self.assertTrue(setLines, "the stock file no longer sets an s2s option; this test has nothing to check")
        self.assertNotIn("s2s_ports", [name for _, name in setLines])
        number, name = setLines[0]
        self.assertIn(
            f"{DEBIAN_CONFIG}:{number}: {name} is set but s2s_ports is not: federation is off "
            "(s2s_ports = { 5269 } turns it on)",
            config.notices,
        )

    def test_stockConfigWithPorts(self) -> None:
        """
        The same file with C{s2s_ports} added turns federation on, and the
        stock options configure it (C{s2s_secure_auth = true} there).
        """
        os.makedirs(os.path.join(self.directory, "conf.d"))
        config = self.load("s2s_ports = { 5269 }\n" + self.text, plugins=["muc"])
        assert config.s2s is not None
        self.assertEqual(config.s2s.secureAuth, "s2s_secure_auth = true" in self.text)
        self.assertEqual([n for n in config.notices if "federation" in n], [])
