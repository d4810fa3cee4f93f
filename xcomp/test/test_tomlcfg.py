"""
Tests for L{xcomp.config.mongooseim}: MongooseIM's TOML and every option of
C{[[listen.component]]}; the errors are in L{xcomp.test.test_tomlcfg_errors}.
"""

from __future__ import annotations

import os
import subprocess
import sys

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

    def test_noLua(self) -> None:
        """
        Loading a TOML file never loads Lua: a fresh interpreter that loads
        one has not imported lupa.
        """
        if not EXAMPLE.exists():
            raise SkipTest("not a source checkout")
        code = (
            "import sys\n"
            "from xcomp.config import loadConfig\n"
            "loadConfig(sys.argv[1])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lupa'))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, EXAMPLE.path],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        self.assertEqual((result.returncode, result.stdout), (0, b"[]\n"), result.stderr)


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
