# -*- test-case-name: xcomp.test.test_config_http -*-
"""
Tests for the HTTP port's configuration: L{xcomp.config.prosody.http}
(Prosody's C{http_openmetrics}, C{statistics}, C{http_ports},
C{http_interfaces}, xcomp's C{xcomp_status} and C{xcomp_http_token}) and
L{xcomp.config.mongooseim.http} (C{[[listen.http]]} handlers).
"""

from __future__ import annotations

from xcomp.config import HTTPHandlerConfig, HTTPListenerConfig
from xcomp.config.http import isLoopback, tokenProblem
from xcomp.test.test_config import _ConfigTestCase
from xcomp.test.test_tomlcfg import _TOMLTestCase

TOKEN = "0123456789abcdefXYZ"
BOTH = 'statistics = "internal"\nmodules_enabled = { "roster"; "http_openmetrics"; "xcomp_status" }\n'
PROSODY_ALLOWED = ("::1/128", "127.0.0.1/32")


def metrics(token: str | None = None, allowFrom: tuple[str, ...] = PROSODY_ALLOWED, path: str = "/metrics") -> HTTPHandlerConfig:
    return HTTPHandlerConfig(kind="metrics", path=path, token=token, allowFrom=allowFrom)


def status(token: str | None = None, path: str = "/") -> HTTPHandlerConfig:
    return HTTPHandlerConfig(kind="status", path=path, token=token)


class ProsodyHTTPTests(_ConfigTestCase):
    """
    The Prosody-style file.
    """

    def test_notEnabled(self) -> None:
        """
        Without either module nothing is served, whatever C{http_ports}
        says (Prosody's own HTTP modules use it).
        """
        self.assertEqual(self.load('http_ports = { 5280 }\nmodules_enabled = { "bosh" }\n').http, ())

    def test_defaults(self) -> None:
        """
        Both modules: one listener on 127.0.0.1:5280 (Prosody's port; not
        Prosody's every-interface default) with metrics at C{/metrics},
        readable from loopback as Prosody's C{openmetrics_allow_ips}
        default says, and the status page at C{/}.
        """
        [http] = self.load(BOTH).http
        self.assertEqual(
            http, HTTPListenerConfig(port=5280, interface="127.0.0.1", handlers=(metrics(), status()))
        )
        self.assertEqual(http.location.line, 2)  # type: ignore[union-attr]

    def test_portsAndInterfaces(self) -> None:
        """
        Every port on every interface; C{xcomp_http_ports} and
        C{xcomp_http_interfaces} win over Prosody's, for a file a running
        Prosody also reads.
        """
        config = self.load(
            'modules_enabled = { "xcomp_status" }\nhttp_ports = { 5280, 5281 }\nhttp_interfaces = { "::1", "127.0.0.2" }\n'
        )
        self.assertEqual(
            [(h.port, h.interface) for h in config.http],
            [(5280, "::1"), (5280, "127.0.0.2"), (5281, "::1"), (5281, "127.0.0.2")],
        )
        config = self.load(
            'modules_enabled = { "xcomp_status" }\nhttp_ports = 5280\nxcomp_http_ports = 5290\n'
            'http_interfaces = { "::1" }\nxcomp_http_interfaces = "127.0.0.1"\n'
        )
        self.assertEqual([(h.port, h.interface) for h in config.http], [(5290, "127.0.0.1")])
        self.assertEqual(config.http[0].location.line, 3)  # type: ignore[union-attr]

    def test_statisticsNeeded(self) -> None:
        """
        As in Prosody, C{http_openmetrics} serves nothing without
        C{statistics = "internal"}: a warning at C{modules_enabled}'s line.
        """
        config = self.load('\nmodules_enabled = { "http_openmetrics" }\n')
        self.assertEqual(config.http, ())
        self.assertIn(
            self.at(2, 'http_openmetrics needs statistics = "internal" (it is not set); /metrics is not served'),
            config.warnings,
        )
        config = self.load('statistics = "statsd"\nmodules_enabled = { "http_openmetrics", "xcomp_status" }\n')
        self.assertEqual([h.kind for h in config.http[0].handlers], ["status"])
        self.assertIn(
            self.at(2, 'http_openmetrics needs statistics = "internal" (it is "statsd"); /metrics is not served'),
            config.warnings,
        )

    def test_statisticsWrongType(self) -> None:
        """
        A C{statistics} that is not a string is an error at its line.
        """
        self.assertEqual(
            self.fails('modules_enabled = { "http_openmetrics" }\nstatistics = true\n'),
            self.at(2, "statistics: true is not a string"),
        )

    def test_badPort(self) -> None:
        """
        A port that is not one is an error at its line.
        """
        self.assertEqual(
            self.fails(BOTH + "http_ports = { 80000 }\n"),
            self.at(3, "http_ports: 80000 is not a port number (1-65535)"),
        )
        self.assertEqual(
            self.fails(BOTH + 'xcomp_http_ports = "web"\n'),
            self.at(3, 'xcomp_http_ports: "web" is not a port number (1-65535)'),
        )

    def test_badInterface(self) -> None:
        """
        An interface that is not an address is an error at its line.
        """
        self.assertTrue(
            self.fails(BOTH + 'http_interfaces = { "localhost" }\n').startswith(
                self.at(3, 'http_interfaces: "localhost" is not an IP address')
            )
        )

    def test_openNeedsToken(self) -> None:
        """
        An interface that is not loopback (Prosody's own default, C{"*"})
        needs C{xcomp_http_token}: refused at the interfaces' line.
        """
        self.assertEqual(
            self.fails(BOTH + 'http_interfaces = { "*", "::" }\n'),
            self.at(
                3,
                "http_interfaces: 0.0.0.0 is not loopback, so the HTTP port (http_openmetrics, xcomp_status) "
                "needs a credential: set xcomp_http_token",
            ),
        )
        config = self.load(BOTH + 'http_interfaces = { "*" }\n' + f'xcomp_http_token = "{TOKEN}"\n')
        self.assertEqual(config.http[0].handlers, (metrics(TOKEN), status(TOKEN)))

    def test_shortToken(self) -> None:
        """
        A token shorter than 16 characters is refused at its line, without
        showing it.
        """
        message = self.fails(BOTH + '\nxcomp_http_token = "hunter2"\n')
        self.assertTrue(message.startswith(self.at(4, "xcomp_http_token: too short (7 characters): at least 16")))
        self.assertNotIn("hunter2", message)

    def test_tokenWrongType(self) -> None:
        """
        A token that is not a string is an error.
        """
        self.assertEqual(
            self.fails(BOTH + "xcomp_http_token = true\n"), self.at(3, "xcomp_http_token: true is not a string")
        )

    def test_tokenNotShown(self) -> None:
        """
        The token is in no repr of the model.
        """
        config = self.load(BOTH + f'xcomp_http_token = "{TOKEN}"\n')
        self.assertNotIn(TOKEN, repr(config))
        self.assertNotIn(TOKEN, repr(config.http))

    def test_allowOptions(self) -> None:
        """
        Prosody's C{openmetrics_allow_ips} replaces the loopback default,
        and C{openmetrics_allow_cidr} adds a network; both apply to
        C{/metrics} only.
        """
        config = self.load(BOTH + 'openmetrics_allow_ips = { "10.1.2.3" }\nopenmetrics_allow_cidr = "192.168.0.0/16"\n')
        self.assertEqual(config.http[0].handlers[0].allowFrom, ("10.1.2.3/32", "192.168.0.0/16"))
        self.assertEqual(config.http[0].handlers[1].allowFrom, ())

    def test_badAllowOptions(self) -> None:
        """
        Addresses and networks that are not are errors at their lines.
        """
        self.assertEqual(
            self.fails(BOTH + 'openmetrics_allow_cidr = "10.0.0.0/33"\n'),
            self.at(3, 'openmetrics_allow_cidr: "10.0.0.0/33" is not a network (for example "10.0.0.0/8")'),
        )
        self.assertEqual(
            self.fails(BOTH + 'openmetrics_allow_ips = { "me" }\n'),
            self.at(3, 'openmetrics_allow_ips: "me" is not an IP address'),
        )

    def test_misplacedToken(self) -> None:
        """
        C{xcomp_http_token} under a Component is warned about: it only
        works globally.
        """
        config = self.load(BOTH + f'Component "a.example"\n  component_secret = "s"\n  xcomp_http_token = "{TOKEN}"\n')
        self.assertIn(
            self.at(5, "option 'xcomp_http_token' under Component \"a.example\" has no effect: it belongs in the "
                       "global section, above the first VirtualHost or Component"),
            config.warnings,
        )


HTTP = """
[[listen.http]]
  port = 9091
  [[listen.http.handlers.mongoose_prometheus_handler]]
    host = "_"
    path = "/metrics"
"""


class MongooseIMHTTPTests(_TOMLTestCase):
    """
    MongooseIM's C{[[listen.http]]}.
    """

    def test_prometheusHandler(self) -> None:
        """
        A C{mongoose_prometheus_handler} serves metrics at its path, on
        127.0.0.1 (MongooseIM's default is every address), readable from
        any address (MongooseIM has no allow list).
        """
        [http] = self.load(HTTP).http
        self.assertEqual(
            http, HTTPListenerConfig(port=9091, interface="127.0.0.1", handlers=(metrics(allowFrom=()),))
        )
        self.assertEqual(http.location.line, 2)  # type: ignore[union-attr]

    def test_statusHandler(self) -> None:
        """
        An C{xcomp_status_handler} serves the status page at its path
        (C{/} when none is given).
        """
        [http] = self.load(HTTP + '  [[listen.http.handlers.xcomp_status_handler]]\n    host = "_"\n').http
        self.assertEqual(http.handlers, (metrics(allowFrom=()), status()))
        [http] = self.load(HTTP + '  [[listen.http.handlers.xcomp_status_handler]]\n    path = "/ops"\n').http
        self.assertEqual(http.handlers[1], status(path="/ops"))

    def test_theirHandlersIgnored(self) -> None:
        """
        A C{[[listen.http]]} with only MongooseIM's handlers is not xcomp's;
        beside one of xcomp's, they are accepted and not served.
        """
        config = self.load(
            '[[listen.http]]\n  port = 5280\n  ip_address = "0.0.0.0"\n  transport.num_acceptors = 10\n'
            '  [[listen.http.handlers.mongoose_bosh_handler]]\n    host = "_"\n    path = "/http-bind"\n'
            + HTTP
            + '  [[listen.http.handlers.mongoose_websocket_handler]]\n    host = "_"\n    path = "/ws"\n'
        )
        self.assertEqual([(h.port, len(h.handlers)) for h in config.http], [(9091, 1)])

    def test_unknownHandler(self) -> None:
        """
        A handler neither xcomp nor MongooseIM has is an error at its line,
        with a hint for a near miss.
        """
        self.assertEqual(
            self.fails(HTTP + "  [[listen.http.handlers.xcomp_status_handlr]]\n    path = \"/\"\n"),
            self.at(7, 'listen.http[1].handlers.xcomp_status_handlr: unknown handler (did you mean "xcomp_status_handler"?)'),
        )

    def test_unknownHandlerOption(self) -> None:
        """
        A key of xcomp's handlers that is not one is an error.
        """
        self.assertEqual(
            self.fails(HTTP + '    paht = "/x"\n'),
            self.at(7, 'listen.http[1].handlers.mongoose_prometheus_handler[1].paht: unknown option (did you mean "path"?)'),
        )

    def test_badValues(self) -> None:
        """
        A port, path, address or token of the wrong kind is an error at
        its line.
        """
        self.assertEqual(
            self.fails(HTTP.replace("9091", '"web"')),
            self.at(3, 'listen.http[1].port: expected a port number (1-65535), not "web"'),
        )
        self.assertEqual(
            self.fails(HTTP.replace('"/metrics"', '"metrics"')),
            self.at(6, 'listen.http[1].handlers.mongoose_prometheus_handler[1].path: expected a path starting with "/", not "metrics"'),
        )
        self.assertEqual(
            self.fails(HTTP.replace("port = 9091", 'port = 9091\n  ip_address = "any"')),
            self.at(4, 'listen.http[1].ip_address: expected an IP address like "127.0.0.1" or "::1", not "any"'),
        )
        self.assertEqual(
            self.fails(HTTP + "    token = 12\n"),
            self.at(7, "listen.http[1].handlers.mongoose_prometheus_handler[1].token: expected a string, not 12"),
        )
        self.assertTrue(
            self.fails(HTTP + '    token = "short"\n').startswith(
                self.at(7, "listen.http[1].handlers.mongoose_prometheus_handler[1].token: too short (5 characters)")
            )
        )

    def test_openNeedsToken(self) -> None:
        """
        A handler on an address that is not loopback needs a C{token}.
        """
        text = HTTP.replace("port = 9091", 'port = 9091\n  ip_address = "0.0.0.0"')
        self.assertEqual(
            self.fails(text),
            self.at(
                5,
                "listen.http[1].handlers.mongoose_prometheus_handler[1]: ip_address 0.0.0.0 is not loopback, "
                "so this handler needs a credential: set token",
            ),
        )
        [http] = self.load(text + f'    token = "{TOKEN}"\n').http
        self.assertEqual(http.handlers[0].token, TOKEN)
        self.assertNotIn(TOKEN, repr(http))

    def test_noTLS(self) -> None:
        """
        xcomp's HTTP port has no TLS: a C{tls} subsection is refused.
        """
        self.assertEqual(
            self.fails(HTTP + '  [listen.http.tls]\n    certfile = "c.pem"\n'),
            self.at(7, "listen.http[1].tls: xcomp's HTTP port has no TLS: serve it on loopback, behind a proxy that has"),
        )

    def test_duplicates(self) -> None:
        """
        Two listeners on one address, or two handlers at one path, are
        errors.
        """
        self.assertEqual(
            self.fails(HTTP + HTTP),
            self.at(9, "listen.http[2].port: 127.0.0.1:9091 is already used by listen.http[1]"),
        )
        self.assertEqual(
            self.fails(HTTP + '  [[listen.http.handlers.xcomp_status_handler]]\n    path = "/metrics"\n'),
            self.at(8, "listen.http[1].handlers.xcomp_status_handler[1].path: /metrics is already served by "
                       "listen.http[1].handlers.mongoose_prometheus_handler[1]"),
        )


class HelperTests(_ConfigTestCase):
    """
    L{isLoopback} and L{tokenProblem}.
    """

    def test_isLoopback(self) -> None:
        """
        127.0.0.0/8 and ::1 are loopback; the wildcards and others are not.
        """
        self.assertEqual(
            [isLoopback(a) for a in ("127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "::", "10.0.0.1", "x")],
            [True, True, True, False, False, False, False],
        )

    def test_tokenProblem(self) -> None:
        """
        Long enough and printable is fine.
        """
        self.assertIsNone(tokenProblem(TOKEN))
        self.assertIsNotNone(tokenProblem("x" * 15))
        self.assertIsNotNone(tokenProblem(" " + TOKEN))
        self.assertIsNotNone(tokenProblem(TOKEN + "\n"))
