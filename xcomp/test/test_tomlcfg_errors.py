"""
Tests for L{xcomp.config.mongooseim}'s errors: every message MongooseIM's
TOML can get, each with the line of the key it is about
(L{xcomp.config.mongooseim.locate}).
"""

from __future__ import annotations

import os

from xcomp.config import ConfigError, loadConfig
from xcomp.test.certs import TestCA
from xcomp.test.test_tomlcfg import LISTENER, _TOMLTestCase


class ErrorTests(_TOMLTestCase):
    """
    Every error: C{file:line: key.path: what is wrong}.
    """

    def assertError(self, text: str, line: int, message: str) -> None:
        """
        Loading C{text} fails with C{message} at C{line}.
        """
        self.assertEqual(self.fails(text), self.at(line, message))

    def test_conflictBehaviour(self) -> None:
        """
        The example of the issue: a wrong C{conflict_behaviour}.
        """
        self.assertError(
            LISTENER + 'conflict_behaviour = "kick"\n',
            5,
            'listen.component[1].conflict_behaviour: expected "disconnect", "kick_old" or "balance"',
        )

    def test_secondListener(self) -> None:
        """
        The path counts the blocks from 1, and the line is in the right
        block.
        """
        self.assertError(
            LISTENER + LISTENER.replace("8888", "8889") + "check_from = 1\n",
            9,
            "listen.component[2].check_from: expected true or false, not 1",
        )

    def test_syntax(self) -> None:
        """
        A TOML syntax error has tomllib's line.
        """
        message = self.fails("[general]\nhosts = [\n\nport = = 3\n")
        self.assertTrue(message.startswith(self.at(4, "not valid TOML: ")), message)

    def test_notUTF8(self) -> None:
        """
        Bytes that are not UTF-8 are an error at their line.
        """
        with open(self.path, "wb") as f:
            f.write(b"[general]\nhosts = ['\xff']\n")
        error = self.assertRaises(ConfigError, loadConfig, self.path)
        self.assertEqual(str(error), self.at(2, "the file is not valid UTF-8"))

    def test_missingFile(self) -> None:
        """
        A file that cannot be read is named.
        """
        error = self.assertRaises(ConfigError, loadConfig, self.path)
        self.assertEqual(str(error), f"{self.path}: cannot read the configuration file: No such file or directory")

    def test_unknownSection(self) -> None:
        """
        A top-level key neither xcomp nor MongooseIM knows.
        """
        self.assertError("\n[genral]\nhosts = []\n", 2, 'genral: unknown option (did you mean "general"?)')

    def test_unknownGeneralKey(self) -> None:
        """
        An unknown key in C{[general]}.
        """
        self.assertError("[general]\n  hots = []\n", 2, 'general.hots: unknown option (did you mean "hosts"?)')

    def test_unknownListenerType(self) -> None:
        """
        A listener type that does not exist.
        """
        self.assertError("[[listen.compnent]]\nport = 1\n", 1, 'listen.compnent: unknown option (did you mean "component"?)')

    def test_unknownListenerOption(self) -> None:
        """
        An unknown key in a listener block.
        """
        self.assertError(LISTENER + "pasword = 1\n", 5, 'listen.component[1].pasword: unknown option (did you mean "password"?)')

    def test_missingPort(self) -> None:
        """
        C{port} is mandatory.
        """
        self.assertError('[[listen.component]]\npassword = "x"\n', 1, "listen.component[1].port: missing (it is mandatory)")

    def test_missingPassword(self) -> None:
        """
        C{password} is mandatory, as in MongooseIM.
        """
        self.assertError("[[listen.component]]\nport = 1\n", 1, "listen.component[1].password: missing (it is mandatory)")

    def test_badPort(self) -> None:
        """
        A port outside 1-65535, or not a number.
        """
        self.assertError(
            LISTENER.replace("8888", "70000"), 3, "listen.component[1].port: expected a port number (1-65535), not 70000"
        )
        self.assertError(
            LISTENER.replace("8888", '"8888"'), 3, 'listen.component[1].port: expected a port number (1-65535), not "8888"'
        )

    def test_badAddress(self) -> None:
        """
        An C{ip_address} that is not an address.
        """
        self.assertError(
            LISTENER + 'ip_address = "localhost"\n',
            5,
            'listen.component[1].ip_address: expected an IP address like "127.0.0.1" or "::1", not "localhost"',
        )

    def test_ipVersion(self) -> None:
        """
        C{ip_version} must be 4 or 6, and agree with C{ip_address}.
        """
        self.assertError(LISTENER + "ip_version = 5\n", 5, "listen.component[1].ip_version: expected 4 or 6, not 5")
        self.assertError(
            LISTENER + 'ip_version = 6\nip_address = "127.0.0.1"\n',
            5,
            "listen.component[1].ip_version: ip_address 127.0.0.1 is not an IPv6 address",
        )

    def test_proto(self) -> None:
        """
        Only TCP.
        """
        self.assertError(LISTENER + 'proto = "udp"\n', 5, 'listen.component[1].proto: expected "tcp"')

    def test_proxyProtocol(self) -> None:
        """
        C{proxy_protocol} is true or false.
        """
        self.assertError(
            LISTENER + 'proxy_protocol = "yes"\n', 5, 'listen.component[1].proxy_protocol: expected true or false, not "yes"'
        )

    def test_passwordDomains(self) -> None:
        """
        C{password_domains} is an array of domains, exact or C{*.} followed
        by one.
        """
        self.assertError(
            LISTENER + 'password_domains = "irc.example.org"\n',
            5,
            'listen.component[1].password_domains: expected an array of strings, not "irc.example.org"',
        )
        self.assertError(
            LISTENER + 'password_domains = ["a.*.org"]\n',
            5,
            "listen.component[1].password_domains: \"a.*.org\": invalid character '*'",
        )

    def test_password(self) -> None:
        """
        A password must be a non-empty string.
        """
        self.assertError(
            LISTENER.replace('"secret"', "12"), 4, "listen.component[1].password: expected a string, not 12"
        )
        self.assertError(
            LISTENER.replace('"secret"', '""'), 4, "listen.component[1].password: expected a non-empty string"
        )

    def test_accessUnknown(self) -> None:
        """
        C{access} must name a rule of C{[access]}.
        """
        self.assertError(LISTENER + 'access = "nosuch"\n', 5, 'listen.component[1].access: there is no access rule "nosuch" in [access]')

    def test_accessValues(self) -> None:
        """
        The rule a listener uses must give C{"allow"} or C{"deny"}.
        """
        self.assertError(
            LISTENER + 'access = "c"\n[access]\n  c = [{acl = "all", value = 5}]\n',
            7,
            'access.c[1].value: expected "allow" or "deny": the rule is the access of listen.component[1]',
        )

    def test_shaperUnknown(self) -> None:
        """
        C{shaper} must name a C{[shaper.NAME]}, or be C{"none"}.
        """
        self.assertEqual(self.listener('shaper = "none"').shaper, None)
        self.assertError(LISTENER + 'shaper = "fast"\n', 5, 'listen.component[1].shaper: there is no shaper "fast" in [shaper]')

    def test_shaperSection(self) -> None:
        """
        A shaper needs a positive C{max_rate} and nothing else.
        """
        self.assertError("[shaper.fast]\n", 1, "shaper.fast.max_rate: missing (bytes per second)")
        self.assertError("[shaper.fast]\nmax_rate = 0\n", 2, "shaper.fast.max_rate: expected a positive integer, not 0")
        self.assertError(
            "[shaper.fast]\nmax_rate = 1\nburst = 2\n", 3, "shaper.fast.burst: unknown option"
        )

    def test_numbers(self) -> None:
        """
        Counts, sizes and durations must be integers of the right range.
        """
        self.assertError(
            LISTENER + "max_connections = 0\n", 5, 'listen.component[1].max_connections: expected a positive integer or "infinity", not 0'
        )
        self.assertError(
            LISTENER + "state_timeout = -1\n", 5, 'listen.component[1].state_timeout: expected a non-negative integer or "infinity", not -1'
        )
        self.assertError(
            LISTENER + 'max_stanza_size = "big"\n', 5, 'listen.component[1].max_stanza_size: expected a positive integer or "infinity", not "big"'
        )
        self.assertError(
            LISTENER + "max_output_buffer = 1.5\n", 5, "listen.component[1].max_output_buffer: expected a positive integer, not 1.5"
        )
        self.assertError(
            LISTENER + "reuse_port = \"yes\"\n", 5, 'listen.component[1].reuse_port: expected true or false, not "yes"'
        )

    def test_duplicateAddress(self) -> None:
        """
        Two listeners on one port and address.
        """
        self.assertError(
            LISTENER + LISTENER, 7, "listen.component[2].port: 127.0.0.1:8888 is already used by listen.component[1]"
        )

    def test_hosts(self) -> None:
        """
        C{general.hosts} must be a list of valid, distinct domains.
        """
        self.assertError('[general]\nhosts = "x"\n', 2, 'general.hosts: expected an array of strings, not "x"')
        self.assertError(
            '[general]\nhosts = ["a b"]\n', 2, 'general.hosts[1]: "a b" is not a valid domain: invalid character \' \''
        )
        self.assertError('[general]\nhosts = ["a", "A"]\n', 2, 'general.hosts[2]: "a" is listed twice')

    def test_acl(self) -> None:
        """
        Access class patterns: known keys, string values, valid matches and
        regular expressions; the line is the pattern's.
        """
        self.assertError("[acl]\nx = 1\n", 2, 'acl.x: expected an array of patterns like [{user = "alice"}], not 1')
        self.assertError(
            '[acl]\nx = [{user = "a"},\n  {usr = "b"}]\n', 3, 'acl.x[2].usr: unknown option (did you mean "user"?)'
        )
        self.assertError('[acl]\nx = [{user = 1}]\n', 2, "acl.x[1].user: expected a string")
        self.assertError(
            '[acl]\nx = [{match = "some"}]\n',
            2,
            'acl.x[1].match: expected "all", "none", "current_domain", "any_hosted_domain"',
        )
        message = self.fails('[acl]\nx = [{user_regex = "("}]\n')
        self.assertTrue(message.startswith(self.at(2, "acl.x[1].user_regex: not a regular expression: ")), message)

    def test_access(self) -> None:
        """
        Access rule clauses: a table with C{acl} and C{value}.
        """
        self.assertError("[access]\nc = 1\n", 2, 'access.c: expected an array like [{acl = "all", value = "allow"}], not 1')
        self.assertError('[access]\nc = [{acl = "all"}]\n', 2, "access.c[1].value: missing")
        self.assertError(
            '[access]\nc = [{acl = "all", value = true}]\n', 2, "access.c[1].value: expected a string or an integer, not true"
        )
        self.assertError(
            '[access]\nc = [{acl = "all", value = "allow", x = 1}]\n', 2, "access.c[1].x: unknown option"
        )

    def test_tls(self) -> None:
        """
        The C{tls} subsection: known keys, both files, direct TLS only,
        files that exist and hold what they should.
        """
        issued = TestCA(self.directory).issue("localhost")
        files = f'certfile = "{issued.certificate}"\nkeyfile = "{issued.key}"\n'
        self.assertError(
            LISTENER + "[listen.component.tls]\n" + files + 'mode = "starttls"\n',
            8,
            'listen.component[1].tls.mode: XEP-0114 has no STARTTLS: component listeners only do direct TLS ("tls")',
        )
        self.assertError(
            LISTENER + '[listen.component.tls]\nkeyfile = "k"\n',
            5,
            "listen.component[1].tls.certfile: missing (a direct-TLS listener needs a certificate and its key)",
        )
        self.assertError(
            LISTENER + "[listen.component.tls]\n" + files + "early_data = true\n",
            8,
            "listen.component[1].tls.early_data: a MongooseIM option that xcomp does not support",
        )
        self.assertError(
            LISTENER + "[listen.component.tls]\n" + files + "certfle = \"x\"\n",
            8,
            'listen.component[1].tls.certfle: unknown option (did you mean "certfile"?)',
        )
        self.assertError(
            LISTENER + "[listen.component.tls]\n" + files + 'verify_mode = "always"\n',
            8,
            'listen.component[1].tls.verify_mode: expected "none", "peer" or "selfsigned_peer"',
        )
        missing = os.path.join(self.directory, "missing.pem")
        self.assertError(
            LISTENER + f'[listen.component.tls]\ncertfile = "{missing}"\nkeyfile = "{issued.key}"\n',
            5,
            f"listen.component[1].tls: cannot read the certificate {missing}: No such file or directory",
        )
        self.assertError(
            LISTENER + f'[listen.component.tls]\ncertfile = "{issued.key}"\nkeyfile = "{issued.key}"\n',
            5,
            f"listen.component[1].tls: the certificate {issued.key} holds no PEM certificate",
        )
        self.assertError(
            LISTENER + "[listen.component.tls]\n" + files + 'protocol_options = ["no_magic"]\n',
            5,
            "listen.component[1].tls: unknown protocol option 'no_magic' (known: cipher_server_preference, "
            "no_compression, no_renegotiation, no_sslv2, no_sslv3, no_ticket, no_tlsv1, no_tlsv1_1, "
            "no_tlsv1_2, no_tlsv1_3, single_dh_use, single_ecdh_use)",
        )
        self.assertError(
            LISTENER + "[listen.component.tls]\n" + files + 'ciphers = "NOTACIPHER"\n',
            5,
            "listen.component[1].tls: no cipher OpenSSL knows matches 'NOTACIPHER'",
        )
