"""
Tests for L{xcomp.config} and L{xcomp.config.prosody}: the model, the
example file, and the global settings of Prosody-style files (paths,
warnings; C{log} is in L{xcomp.test.test_config_log}).  L{_ConfigTestCase}
is the base of every Prosody-style test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Collection

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from xcomp.config import (
    ComponentConfig,
    ConfigError,
    InternalComponentConfig,
    ListenerConfig,
    Location,
    RouterConfig,
    loadConfig,
)
from xcomp.tls import checkListeners


EXAMPLE = FilePath(__file__).parent().parent().parent().child("examples").child(
    "prosody.cfg.lua"
)


class _ConfigTestCase(SynchronousTestCase):
    """
    Write configuration files into a temporary directory and load them.
    """

    def setUp(self) -> None:
        """
        Make the directory; every file of a test goes in it.
        """
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "prosody.cfg.lua")

    def write(self, name: str, text: str) -> str:
        """
        Write a file next to the configuration.

        @return: Its path, as L{loadConfig} names files it includes.
        """
        path = os.path.join(self.directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def load(
        self, text: str, plugins: Collection[str] = (), modules: Collection[str] = ()
    ) -> RouterConfig:
        """
        Load C{text} as the configuration file, and open its certificates
        as C{twistd xcomp} does at startup.
        """
        self.write("prosody.cfg.lua", text)
        config = loadConfig(self.path, plugins=plugins, modules=modules)
        checkListeners(config)
        return config

    def fails(
        self, text: str, plugins: Collection[str] = (), modules: Collection[str] = ()
    ) -> str:
        """
        Load C{text}, which must fail.

        @return: The text of the L{ConfigError}.
        """
        error = self.assertRaises(ConfigError, self.load, text, plugins, modules)
        return str(error)

    def at(self, line: int, message: str, name: str = "prosody.cfg.lua") -> str:
        """
        The text of an error at C{line} of a file of this test.
        """
        return f"{os.path.join(self.directory, name)}:{line}: {message}"

    def component(self, config: RouterConfig, domain: str) -> ComponentConfig:
        """
        The external component C{domain}.
        """
        component = config.components[domain]
        assert isinstance(component, ComponentConfig)
        return component


class ModelTests(_ConfigTestCase):
    """
    The model's own behaviour.
    """

    def test_locationText(self) -> None:
        """
        A L{Location} reads C{file:line}.
        """
        self.assertEqual(str(Location("prosody.cfg.lua", 12)), "prosody.cfg.lua:12")

    def test_errorText(self) -> None:
        """
        A L{ConfigError} reads C{file:line: message} and keeps both parts.
        """
        error = ConfigError(Location("prosody.cfg.lua", 3), "what is wrong")
        self.assertEqual(str(error), "prosody.cfg.lua:3: what is wrong")
        self.assertEqual(error.location, Location("prosody.cfg.lua", 3))
        self.assertEqual(error.message, "what is wrong")

    def test_errorTextWithoutLocation(self) -> None:
        """
        Without a location, a L{ConfigError} is just its message.
        """
        self.assertEqual(str(ConfigError(None, "x: unreadable")), "x: unreadable")

    def test_secretNotShown(self) -> None:
        """
        No secret appears in the repr of the configuration, of a component,
        or in any options mapping.
        """
        config = self.load(
            'component_secret = "global-s3cret"\n'
            'Component "a.example.org"\n'
            '  component_secret = "own-s3cret"\n'
            'Component "b.example.org"\n'
        )
        text = repr(config) + str(config) + repr(config.components)
        for component in config.components.values():
            text += repr(component) + repr(dict(component.options))
        text += repr(dict(config.options))
        self.assertNotIn("s3cret", text)
        self.assertEqual(self.component(config, "a.example.org").secret, "own-s3cret")

    def test_optionsReadOnly(self) -> None:
        """
        Options mappings cannot be changed.
        """
        config = self.load('admins = { "a@example.org" }\nVirtualHost "example.org"\n')
        with self.assertRaises(TypeError):
            config.options["admins"] = ()  # type: ignore[index]
        with self.assertRaises(TypeError):
            config.virtualHosts["example.org"].options["x"] = 1  # type: ignore[index]
        with self.assertRaises(TypeError):
            config.components["x"] = None  # type: ignore[index]

    def test_tablesConverted(self) -> None:
        """
        Array-like tables become tuples, others read-only mappings, nested.
        """
        config = self.load('admins = { "a", "b" }\nsql = { driver = "SQLite3", x = { 1, 2 } }\n')
        self.assertEqual(config.options["admins"], ("a", "b"))
        self.assertEqual(dict(config.options["sql"]), {"driver": "SQLite3", "x": (1, 2)})  # type: ignore[call-overload]

    def test_pathTypes(self) -> None:
        """
        A L{FilePath} and a L{os.PathLike} are accepted and C{source} names the
        file.
        """
        self.write("prosody.cfg.lua", "")
        self.assertEqual(loadConfig(FilePath(self.path)).source, os.path.abspath(self.path))
        self.assertEqual(loadConfig(Path(self.path)).source, self.path)


class ExampleTests(SynchronousTestCase):
    """
    C{examples/prosody.cfg.lua}, in xcomp and in Prosody.
    """

    def setUp(self) -> None:
        """
        The example is in the source tree, not in an installed package.
        """
        if not EXAMPLE.exists():
            raise SkipTest(f"{EXAMPLE.path} is not there (not a source checkout)")

    def test_exampleLoads(self) -> None:
        """
        The example loads without warnings and has its two external
        components and its C{muc} component with C{muc_mam}.
        """
        config = loadConfig(EXAMPLE, plugins=["muc"], modules=["muc_mam"])
        self.assertEqual(config.warnings, ())
        self.assertEqual(config.listeners, (ListenerConfig(5347, "127.0.0.1"),))
        self.assertEqual(list(config.virtualHosts), ["example.org"])
        gateway, bot, muc = config.components.values()
        assert isinstance(muc, InternalComponentConfig)
        self.assertEqual((muc.domain, muc.plugin, muc.modules), ("conference.example.org", "muc", ("muc_mam",)))
        assert isinstance(gateway, ComponentConfig) and isinstance(bot, ComponentConfig)
        self.assertEqual(
            (gateway.domain, gateway.name, gateway.discoHidden),
            ("gateway.example.org", "Example gateway", False),
        )
        self.assertEqual((bot.domain, bot.discoHidden), ("bot.example.org", True))
        self.assertNotEqual(gateway.secret, bot.secret)

    def test_exampleLoadsInProsody(self) -> None:
        """
        C{prosodyctl check config} accepts the example: it exits with 0 and
        says all checks passed (it exits with 1 when the file does not load
        and with 2 when a check finds a problem).
        """
        prosodyctl = shutil.which("prosodyctl")
        if prosodyctl is None:
            raise SkipTest("prosodyctl is not installed (Debian: apt-get install prosody)")
        # prosodyctl reads the file as the prosody user: the copy must be
        # readable by anyone, and the path absolute.
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        os.chmod(directory, 0o755)
        copy = os.path.join(directory, "prosody.cfg.lua")
        shutil.copyfile(EXAMPLE.path, copy)
        os.chmod(copy, 0o644)
        result = subprocess.run(
            [prosodyctl, "--config", copy, "check", "config"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
        output = result.stdout.decode("utf-8", "replace")
        self.assertEqual(result.returncode, 0, output)
        self.assertIn("All checks passed, congratulations!", output)
        self.assertNotIn("A problem occurred while reading the config file", output)


class PathTests(_ConfigTestCase):
    """
    C{xcomp_pidfile} and C{data_path}; Prosody's own C{pidfile} and C{log}.
    """

    def test_defaults(self) -> None:
        """
        Neither is set by default.
        """
        config = self.load("")
        self.assertEqual((config.pidfile, config.dataPath), (None, None))

    def test_relative(self) -> None:
        """
        Relative paths are resolved against the configuration's directory.
        """
        config = self.load('xcomp_pidfile = "run/xcomp.pid"\ndata_path = "/var/lib/xcomp"\n')
        self.assertEqual(
            config.pidfile, os.path.abspath(os.path.join(self.directory, "run/xcomp.pid"))
        )
        self.assertEqual(config.dataPath, "/var/lib/xcomp")
        self.assertEqual((config.warnings, config.notices), ((), ()))

    def test_prosodysPidfileAndLog(self) -> None:
        """
        A file shared with Prosody (Debian's C{/etc/prosody/prosody.cfg.lua}
        sets both): Prosody's C{pidfile} and C{log} are not xcomp's, and
        one notice each says so at its line; no warning.
        """
        config = self.load(
            'pidfile = "/run/prosody/prosody.pid"\n'
            'log = { info = "/var/log/prosody/prosody.log" }\n'
        )
        self.assertEqual((config.pidfile, config.log, config.warnings), (None, (), ()))
        source = config.source
        self.assertEqual(
            config.notices,
            (
                f"{source}:1: pidfile is Prosody's; xcomp leaves it alone "
                "(xcomp_pidfile, or twistd's --pidfile, is xcomp's own)",
                f"{source}:2: log is Prosody's; xcomp logs where twistd does "
                "(xcomp_log, in the same forms, adds xcomp's own)",
            ),
        )

    def test_xcompOwnBesideProsodys(self) -> None:
        """
        With C{xcomp_pidfile} and C{xcomp_log} beside Prosody's, xcomp takes
        its own, and says nothing about Prosody's C{log}.
        """
        config = self.load(
            'pidfile = "/run/prosody/prosody.pid"\nlog = "/var/log/prosody/prosody.log"\n'
            'xcomp_pidfile = "/run/xcomp.pid"\nxcomp_log = { warn = "/var/log/xcomp.log" }\n'
        )
        self.assertEqual(config.pidfile, "/run/xcomp.pid")
        self.assertEqual([(s.level, s.target) for s in config.log], [("warn", "/var/log/xcomp.log")])
        self.assertEqual(len(config.notices), 1)
        self.assertIn("pidfile is Prosody's", config.notices[0])


class WarningTests(_ConfigTestCase):
    """
    Unknown and misplaced options warn, as Prosody does.
    """

    def test_unknownOption(self) -> None:
        """
        An unknown option warns, with a suggestion when one is close.
        """
        config = self.load(
            'component_secret = "s"\nComponent "a.org"\n  compnent_secret = "x"\nzzz_qqq = 1\n'
        )
        self.assertEqual(
            config.warnings,
            (
                self.at(
                    3,
                    "unknown option 'compnent_secret' under Component \"a.org\" "
                    "(did you mean 'component_secret'?)",
                ),
                self.at(4, "unknown option 'zzz_qqq' under Component \"a.org\""),
            ),
        )

    def test_prosodyOptionsDoNotWarn(self) -> None:
        """
        Options Prosody knows but xcomp does not use cause no warning.
        """
        config = self.load(
            'admins = {}\nmodules_enabled = { "disco" }\nauthentication = "internal_hashed"\n'
            'storage = "internal"\nc2s_require_encryption = true\ns2s_secure_auth = false\n'
            'certificates = "certs"\nallow_registration = false\nplugin_paths = {}\n'
            'VirtualHost "example.org"\n  http_host = "example.org"\n'
            'Component "c.example.org" "muc"\n  restrict_room_creation = true\n',
            plugins=["muc"],
        )
        self.assertEqual(config.warnings, ())

    def test_misplacedPorts(self) -> None:
        """
        C{component_ports} inside a Component has no effect and warns.
        """
        config = self.load('component_secret = "s"\nComponent "a.org"\n  component_ports = 1\n')
        self.assertEqual(config.listeners[0].port, 5347)
        self.assertEqual(
            config.warnings,
            (
                self.at(
                    3,
                    "option 'component_ports' under Component \"a.org\" has no effect: it "
                    "belongs in the global section, above the first VirtualHost or Component",
                ),
            ),
        )

    def test_misplacedInterfaces(self) -> None:
        """
        C{component_interfaces} inside a VirtualHost warns.
        """
        config = self.load('VirtualHost "a.org"\n  component_interfaces = { "::" }\n')
        self.assertEqual(
            config.warnings,
            (
                self.at(
                    2,
                    "option 'component_interfaces' under VirtualHost \"a.org\" has no "
                    "effect: it belongs in the global section, above the first "
                    "VirtualHost or Component",
                ),
            ),
        )
