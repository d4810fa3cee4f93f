# -*- test-case-name: xcomp.test.test_tomlcfg_s2s -*-
"""
Tests for L{xcomp.config.mongooseim.s2s}: C{[[listen.s2s]]} and the
C{[s2s]} section of MongooseIM's TOML, and their C{file:line:} errors.
"""

from __future__ import annotations

import os

from xcomp.config.model import S2SConfig, S2SListenerConfig, ShaperConfig, TLSConfig
from xcomp.test.test_tomlcfg import _TOMLTestCase

GENERAL = '[general]\n  hosts = ["example.org", "other.org"]\n'


class S2STOMLTests(_TOMLTestCase):
    """
    The s2s settings of a MongooseIM file.
    """

    def s2s(self, text: str) -> S2SConfig:
        """
        Load C{[general]} and C{text}; s2s must be on.
        """
        config = self.load(GENERAL + text)
        assert config.s2s is not None
        return config.s2s

    def test_offWithoutS2S(self) -> None:
        """
        Without C{[[listen.s2s]]} and C{[s2s]} there is no s2s.
        """
        self.assertIsNone(self.load(GENERAL).s2s)

    def test_listenerDefaults(self) -> None:
        """
        A C{[[listen.s2s]]} block listens on loopback with MongooseIM's
        defaults: STARTTLS not required, dialback allowed, everyone
        allowed.
        """
        s2s = self.s2s("[[listen.s2s]]\n  port = 5269\n")
        self.assertEqual(s2s.listeners, (S2SListenerConfig(5269, "127.0.0.1"),))
        self.assertFalse(s2s.requireEncryption)
        self.assertFalse(s2s.secureAuth)
        self.assertTrue(s2s.allows("anyone.example"))
        self.assertEqual((s2s.dnsTimeout, s2s.dnsRetries, s2s.outgoingPort, s2s.ipVersions), (10.0, 2, 5269, (4, 6)))

    def test_everyOption(self) -> None:
        """
        Every option of both places, converted.
        """
        s2s = self.s2s(
            '[shaper.fast]\n  max_rate = 50000\n'
            '[[listen.s2s]]\n  port = 5270\n  ip_address = "127.0.3.4"\n  shaper = "fast"\n'
            '  max_stanza_size = 65536\n  tls.cacertfile = "ca.pem"\n'
            '[[listen.s2s]]\n  port = 5271\n  ip_address = "127.0.3.4"\n  tls.mode = "tls"\n'
            "[s2s]\n"
            '  default_policy = "deny"\n'
            '  host_policy = [{host = "Good.Example", policy = "allow"}]\n'
            '  use_starttls = "required_trusted"\n'
            '  certfile = "all.pem"\n'
            '  domain_certfile = [{domain = "other.org", certfile = "other.pem"}]\n'
            '  shared = "sesame"\n'
            '  address = [{host = "peer.example", ip_address = "127.0.3.9", port = 5999}]\n'
            "  max_retry_delay = 300\n"
            "  outgoing.port = 5299\n  outgoing.ip_versions = [6, 4]\n  outgoing.connection_timeout = 5000\n"
            "  dns.timeout = 3\n  dns.retries = 1\n"
        )
        self.assertEqual(
            s2s.listeners,
            (S2SListenerConfig(5270, "127.0.3.4"), S2SListenerConfig(5271, "127.0.3.4", directTLS=True)),
        )
        self.assertEqual(s2s.shaper and s2s.shaper.maxRate, 50000)
        self.assertEqual(s2s.stanzaSizeLimit, 65536)
        self.assertEqual(s2s.caCertificates, os.path.join(self.directory, "ca.pem"))
        self.assertTrue(s2s.requireEncryption)
        self.assertTrue(s2s.secureAuth)
        self.assertTrue(s2s.allows("good.example"))
        self.assertFalse(s2s.allows("other.example"))
        path = lambda name: os.path.join(self.directory, name)  # noqa: E731
        self.assertEqual(
            dict(s2s.certificates),
            {"example.org": TLSConfig(path("all.pem"), path("all.pem")), "other.org": TLSConfig(path("other.pem"), path("other.pem"))},
        )
        self.assertEqual(s2s.dialbackSecret, "sesame")
        self.assertNotIn("sesame", repr(s2s))
        self.assertEqual(dict(s2s.connectOverrides), {"peer.example": ("127.0.3.9", 5999)})
        self.assertEqual((s2s.outgoingPort, s2s.ipVersions, s2s.connectTimeout), (5299, (6, 4), 5.0))
        self.assertEqual((s2s.dnsTimeout, s2s.dnsRetries), (3.0, 1))

    def test_starttlsRequired(self) -> None:
        """
        C{use_starttls = "required"} requires encryption but allows
        dialback.
        """
        s2s = self.s2s('[s2s]\n  use_starttls = "required"\n')
        self.assertEqual((s2s.requireEncryption, s2s.secureAuth, s2s.listeners), (True, False, ()))

    def test_listenerCertificate(self) -> None:
        """
        A listener's C{tls.certfile}/C{keyfile} is every host's certificate
        when C{[s2s]} names none.
        """
        s2s = self.s2s('[[listen.s2s]]\n  port = 5269\n  tls.certfile = "c.pem"\n  tls.keyfile = "k.pem"\n')
        path = lambda name: os.path.join(self.directory, name)  # noqa: E731
        self.assertEqual(set(s2s.certificates), {"example.org", "other.org"})
        self.assertEqual(s2s.certificates["other.org"], TLSConfig(path("c.pem"), path("k.pem")))

    def test_errors(self) -> None:
        """
        Bad values and unknown keys are errors at their line.
        """
        cases = [
            ("[[listen.s2s]]\n  ip_address = \"127.0.0.1\"\n", 3, "listen.s2s[1].port: missing (it is mandatory)"),
            ("[[listen.s2s]]\n  port = 0\n", 4, "listen.s2s[1].port: expected a port number (1-65535), not 0"),
            ("[[listen.s2s]]\n  port = 5269\n  colour = 1\n", 5, 'listen.s2s[1].colour: unknown option'),
            ('[[listen.s2s]]\n  port = 5269\n  shaper = "nope"\n', 5, 'listen.s2s[1].shaper: there is no shaper "nope" in [shaper]'),
            ('[s2s]\n  use_starttls = "yes"\n', 4, 's2s.use_starttls: expected "false", "optional", "required" or "required_trusted"'),
            ('[s2s]\n  default_policy = "maybe"\n', 4, 's2s.default_policy: expected "allow" or "deny"'),
            ('[s2s]\n  host_policy = [{host = "a.example"}]\n', 4, "s2s.host_policy[1].policy: missing (it is mandatory)"),
            ('[s2s]\n  address = [{host = "a.example", ip_address = "nowhere"}]\n', 4, 's2s.address[1].ip_address: expected an IP address like "127.0.0.1" or "::1", not "nowhere"'),
            ("[s2s]\n  outgoing.ip_versions = [5]\n", 4, "s2s.outgoing.ip_versions[1]: expected 4 or 6, not 5"),
            ("[s2s]\n  dns.timeout = 0\n", 4, "s2s.dns.timeout: expected a positive integer, not 0"),
            ("[s2s]\n  shared = 3\n", 4, "s2s.shared: expected a string, not 3"),
            ("[s2s]\n  sharde = \"x\"\n", 4, 's2s.sharde: unknown option (did you mean "shared"?)'),
        ]
        for text, line, message in cases:
            error = self.fails(GENERAL + text)
            self.assertTrue(error.startswith(self.at(line, message)), (error, message))
