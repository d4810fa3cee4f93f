"""
Tests for L{xcomp.config.mongooseim}: MongooseIM's TOML, every option of
C{[[listen.component]]} and every error message, with its line.
"""

from __future__ import annotations

import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from xcomp.config.acl import ACLPattern, AccessClause
from xcomp.config import ConfigError, ListenerConfig, RouterConfig, ShaperConfig, TLSConfig, loadConfig
from xcomp.tls import checkListeners
from xcomp.test.certs import TestCA

EXAMPLE = FilePath(__file__).parent().parent().parent().child("examples").child("mongooseim.toml")

LISTENER = """
[[listen.component]]
  port = 8888
  password = "secret"
"""


class _TOMLTestCase(SynchronousTestCase):
    """
    Write TOML files into a temporary directory and load them.
    """

    def setUp(self) -> None:
        """
        Make the directory.
        """
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "mongooseim.toml")

    def load(self, text: str) -> RouterConfig:
        """
        Load C{text} as C{mongooseim.toml}, and open its certificates as
        C{twistd xcomp} does at startup.
        """
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)
        config = loadConfig(self.path)
        checkListeners(config)
        return config

    def fails(self, text: str) -> str:
        """
        Load C{text}, which must fail; the message of the error.
        """
        return str(self.assertRaises(ConfigError, self.load, text))

    def at(self, line: int, message: str) -> str:
        """
        The text of an error at C{line} of the file.
        """
        return f"{self.path}:{line}: {message}"

    def listener(self, extra: str) -> ListenerConfig:
        """
        Load one listener with C{extra} lines in its block.
        """
        [listener] = self.load(LISTENER + extra).listeners
        return listener


class ExampleTests(SynchronousTestCase):
    """
    C{examples/mongooseim.toml}.
    """

    def test_exampleLoads(self) -> None:
        """
        The example mirrors the listener of MongooseIM's documentation and
        loads without warnings.
        """
        if not EXAMPLE.exists():
            raise SkipTest("not a source checkout")
        config = loadConfig(EXAMPLE)
        self.assertEqual(config.warnings, ())
        [listener] = config.listeners
        self.assertEqual(
            (listener.port, listener.interface, listener.access, listener.password),
            (8888, "127.0.0.1", "all", "secret"),
        )
        self.assertEqual(listener.shaper, ShaperConfig("fast", 50_000))
        self.assertEqual(list(config.virtualHosts), ["example.org"])


class ListenerOptionTests(_TOMLTestCase):
    """
    Each option of C{[[listen.component]]}, and its default.
    """

    def test_defaults(self) -> None:
        """
        Only C{port} and C{password} are needed; the rest have MongooseIM's
        defaults (C{check_from}, C{disconnect}, 5 s state timeout, no
        limits) and xcomp's (loopback, keepalives, send timeout, output
        bound).
        """
        listener = self.listener("")
        self.assertEqual(
            listener,
            ListenerConfig(
                8888,
                "127.0.0.1",
                password="secret",
                checkFrom=True,
                conflictResolve="kick_new",
                stateTimeout=5.0,
            ),
        )
        self.assertEqual(listener.password, "secret")
        self.assertNotIn("secret", repr(listener))

    def test_ipAddress(self) -> None:
        """
        C{ip_address} is the address to bind; without it the listener binds
        loopback (unlike MongooseIM, whose default is every address), and
        C{ip_version = 6} alone means IPv6 loopback.
        """
        self.assertEqual(self.listener('ip_address = "::1"').interface, "::1")
        self.assertEqual(self.listener('ip_address = "0.0.0.0"').interface, "0.0.0.0")
        self.assertEqual(self.listener("ip_version = 6").interface, "::1")
        self.assertEqual(self.listener("ip_version = 4").interface, "127.0.0.1")
        self.assertEqual(self.listener('ip_version = 4\nip_address = "127.0.0.1"').interface, "127.0.0.1")

    def test_options(self) -> None:
        """
        Every option reaches the model.
        """
        config = self.load(
            LISTENER
            + """
  access = "component"
  shaper = "slow"
  check_from = false
  hidden_components = true
  conflict_behaviour = "kick_old"
  max_connections = 10_000
  reuse_port = true
  state_timeout = 10_000
  max_stanza_size = 65536
  keepalive_interval = 30_000
  send_timeout = 20_000
  max_output_buffer = 1_000_000
  proto = "tcp"
  hibernate_after = 0
  num_acceptors = 10

[shaper.slow]
  max_rate = 1000

[access]
  component = [{acl = "all", value = "allow"}]
"""
        )
        [listener] = config.listeners
        self.assertEqual(listener.access, "component")
        self.assertEqual(listener.shaper, ShaperConfig("slow", 1000))
        self.assertIs(listener.checkFrom, False)
        self.assertIs(listener.hiddenComponents, True)
        self.assertEqual(listener.conflictResolve, "kick_old")
        self.assertEqual(listener.maxConnections, 10_000)
        self.assertIs(listener.reusePort, True)
        self.assertEqual(listener.stateTimeout, 10.0)
        self.assertEqual(listener.stanzaSizeLimit, 65536)
        self.assertEqual(listener.keepaliveInterval, 30.0)
        self.assertEqual(listener.sendTimeout, 20.0)
        self.assertEqual(listener.maxOutputBuffer, 1_000_000)
        self.assertEqual(config.stanzaSizeLimit, 65536)

    def test_infinity(self) -> None:
        """
        C{"infinity"} turns off C{max_connections}, C{state_timeout} and the
        timeouts; for C{max_stanza_size} it means a large bound, with a
        warning.
        """
        config = self.load(
            LISTENER
            + 'max_connections = "infinity"\nstate_timeout = "infinity"\n'
            'max_stanza_size = "infinity"\nkeepalive_interval = "infinity"\n'
            'send_timeout = "infinity"\n'
        )
        [listener] = config.listeners
        self.assertEqual(
            (listener.maxConnections, listener.stateTimeout, listener.keepaliveInterval, listener.sendTimeout),
            (None, None, None, None),
        )
        self.assertEqual(listener.stanzaSizeLimit, 64 * 1024 * 1024)
        self.assertEqual(
            config.warnings,
            (
                self.at(
                    7,
                    'listen.component[1].max_stanza_size: "infinity" means 67108864 bytes: '
                    "xcomp always bounds what it buffers",
                ),
            ),
        )

    def test_serviceListener(self) -> None:
        """
        MongooseIM 4 and 5 called the component listener C{listen.service};
        it is read the same way.
        """
        [listener] = self.load(LISTENER.replace("component", "service")).listeners
        self.assertEqual((listener.port, listener.password), (8888, "secret"))

    def test_severalListeners(self) -> None:
        """
        Every block is a listener, in order.
        """
        config = self.load(LISTENER + LISTENER.replace("8888", "8889"))
        self.assertEqual([l.port for l in config.listeners], [8888, 8889])

    def test_mongooseSectionsIgnored(self) -> None:
        """
        What MongooseIM has and xcomp does not use loads silently.
        """
        config = self.load(
            '[general]\nloglevel = "warning"\nhosts = ["localhost"]\n'
            "default_server_domain = \"localhost\"\n"
            "[[listen.c2s]]\nport = 5222\n[[listen.http]]\nport = 5280\n"
            '[auth]\nmethods = ["internal"]\n[modules.mod_disco]\n' + LISTENER
        )
        self.assertEqual(config.warnings, ())
        self.assertEqual(list(config.virtualHosts), ["localhost"])

    def test_loglevel(self) -> None:
        """
        C{general.loglevel} is the lowest level logged, MongooseIM's names
        mapped to the nearest level that logs at least as much; none set
        means none chosen; an unknown name is an error on its line.
        """
        for name, level in [("warning", "warn"), ("notice", "info"), ("all", "debug"), ("none", "error")]:
            config = self.load(f'[general]\nloglevel = "{name}"\n' + LISTENER)
            self.assertEqual(config.logLevel, level)
        self.assertIsNone(self.load(LISTENER).logLevel)
        error = self.fails('[general]\nhosts = ["a"]\nloglevel = "loud"\n' + LISTENER)
        self.assertIn(":3: general.loglevel: expected one of none, ", error)

    def test_tls(self) -> None:
        """
        A C{tls} subsection makes a direct-TLS listener with its
        certificate, key, CA file, verify mode, ciphers and options; file
        names are relative to the configuration file.
        """
        ca = TestCA(self.directory)
        issued = ca.issue("localhost")
        listener = self.listener(
            f"""
  [listen.component.tls]
    mode = "tls"
    certfile = "{os.path.basename(issued.certificate)}"
    keyfile = "{issued.key}"
    cacertfile = "ca.pem"
    verify_mode = "peer"
    ciphers = "ECDHE+AESGCM"
    protocol_options = ["no_tlsv1_1", "cipher_server_preference"]
"""
        )
        self.assertEqual(
            listener.tls,
            TLSConfig(
                issued.certificate,
                issued.key,
                caCertificates=ca.path,
                verifyMode="peer",
                ciphers="ECDHE+AESGCM",
                protocolOptions=("no_tlsv1_1", "cipher_server_preference"),
            ),
        )

    def test_tlsDefaults(self) -> None:
        """
        Without C{verify_mode}, no client certificate is asked for.
        """
        issued = TestCA(self.directory).issue("localhost")
        listener = self.listener(f'tls = {{certfile = "{issued.certificate}", keyfile = "{issued.key}"}}')
        self.assertEqual(listener.tls, TLSConfig(issued.certificate, issued.key))


class GlobalSectionTests(_TOMLTestCase):
    """
    C{[general]}, C{[shaper]}, C{[acl]} and C{[access]}.
    """

    def test_hosts(self) -> None:
        """
        C{general.hosts} are the VirtualHosts, nameprep'd.
        """
        config = self.load('[general]\nhosts = ["Example.ORG", "localhost"]\n')
        self.assertEqual(list(config.virtualHosts), ["example.org", "localhost"])
        self.assertEqual(config.virtualHosts["localhost"].location.line, 2)  # type: ignore[union-attr]

    def test_aclAndAccess(self) -> None:
        """
        Access classes and rules in MongooseIM's shape; JID parts are
        prepared, both regex spellings are read.
        """
        config = self.load(
            """
[acl]
  trusted = [{server = "Bot.Example.ORG"}, {user = "Admin", match = "any_hosted_domain"}]
  patterns = [{user_regexp = "^adm"}, {server_glob = "*.example.org", resource_regex = "x"}]

[access]
  component = [
    {acl = "trusted", value = "allow"},
    {acl = "all", value = "deny"},
  ]
  limits = [{acl = "all", value = 10}]
"""
        )
        self.assertEqual(
            config.acl["trusted"],
            (ACLPattern(server="bot.example.org"), ACLPattern(user="admin", match="any_hosted_domain")),
        )
        self.assertEqual(
            config.acl["patterns"],
            (ACLPattern(userRegex="^adm"), ACLPattern(serverGlob="*.example.org", resourceRegex="x")),
        )
        self.assertEqual(
            config.accessRules["component"],
            (AccessClause("trusted", "allow"), AccessClause("all", "deny")),
        )
        self.assertEqual(config.accessRules["limits"], (AccessClause("all", 10),))

    def test_unknownAccessClassWarns(self) -> None:
        """
        A clause naming an access class that does not exist never matches
        (as in MongooseIM), and is warned about at its line.
        """
        config = self.load('\n[access]\n  c = [{acl = "nosuch", value = "allow"}]\n')
        self.assertEqual(
            config.warnings,
            (self.at(3, 'access.c[1].acl: there is no access class "nosuch" in [acl]; this clause never matches'),),
        )


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
            'listen.component[1].conflict_behaviour: expected "disconnect" or "kick_old"',
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
