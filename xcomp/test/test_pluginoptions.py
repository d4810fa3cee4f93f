"""
Tests for declared plugin options (L{xcomp.pluginoptions}): the types, their
use by the configuration loader (converted values, the option's own line,
no unknown-option warning), C{--list-plugins}, and the example plugin of
C{docs/plugins.md} and C{examples/xcomp-ping}.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import types

import attrs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase
from zope.interface.verify import verifyObject

from xcomp.config import ConfigError, loadConfig
from xcomp.interfaces import IOptionType, IPluginOption
from xcomp.plugin import (
    Boolean,
    Choice,
    ComponentModule,
    ComponentPlugin,
    Float,
    Integer,
    PluginOption,
    String,
    StringList,
    convertOptions,
    optionSchemas,
)
from xcomp.tap import Options, listPlugins
from xcomp.test.test_plugins import installExample
from xcomp.testing import ComponentHarness

DOCS = FilePath(__file__).parent().parent().sibling("docs").child("plugins.md")
NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


class TypeTests(SynchronousTestCase):
    """
    Each type converts what a Lua file gives, refuses the rest with a
    reason, and accepts its own output again.
    """

    CASES: list[tuple[IOptionType, list[tuple[object, object]], list[tuple[object, str]]]] = [
        (Boolean(), [(True, True), ("false", False), (1, True), (0, False)],
         [("yes", '"yes" is not true or false'), (2, "2 is not true or false")]),
        (Integer(1, 10), [(3, 3), ("7", 7), (4.0, 4), (" 10 ", 10)],
         [(0, "0 is not an integer from 1 to 10"), (1.5, "1.5 is not an integer from 1 to 10"),
          (True, "true is not an integer from 1 to 10"), ("x", '"x" is not an integer from 1 to 10')]),
        (Integer(0), [(0, 0)], [(-1, "-1 is not an integer of at least 0")]),
        (Float(0, 60), [(0.5, 0.5), ("1.5", 1.5), (2, 2.0)],
         [(61, "61 is not a number from 0 to 60"), (float("nan"), "nan is not a number from 0 to 60")]),
        (String(5), [("abc", "abc"), (12, "12")], [(False, "false is not a string"), ("abcdef", "longer than 5 characters")]),
        (Choice((False, "admin", "local"), aliases={True: "admin"}), [(False, False), ("local", "local"), (True, "admin")],
         [("x", '"x" is not false, "admin", "local" or true'), (0, '0 is not false, "admin", "local" or true')]),
        (StringList(3), [(("a", "b", "a"), ("a", "b")), ("a", ("a",)), ((), ())],
         [(("a", 1.5), "item 2: 1.5 is not a string"), (("a", "b", "c", "d"), "more than 3 items"),
          (3, "3 is not a list of strings")]),
    ]

    def test_convert(self) -> None:
        """
        Accepted values convert, and converting the result again gives it
        unchanged; refused ones raise L{ValueError} with the reason.
        """
        for type_, good, bad in self.CASES:
            self.assertTrue(verifyObject(IOptionType, type_))
            for value, expected in good:
                converted = type_.convert(value)
                self.assertEqual((converted, type(converted)), (expected, type(expected)), (type_, value))
                self.assertEqual(type_.convert(converted), expected)
            for value, reason in bad:
                error = self.assertRaises(ValueError, type_.convert, value)
                self.assertEqual(str(error), reason)

    def test_describe(self) -> None:
        """
        C{describe} names the type and its bounds for C{--list-plugins}.
        """
        self.assertEqual(
            [t.describe() for t in (Boolean(), Integer(1, 10), Integer(0), Float(0, 60), String(), StringList())],
            ["boolean", "integer 1..10", "integer >= 0", "number 0..60", "string", "list of strings"],
        )

    def test_convertOptions(self) -> None:
        """
        L{convertOptions} converts the declared options, sets the defaults of
        those not set (or nil), leaves the others alone, and names the option
        it refuses.
        """
        declared = [PluginOption("n", Integer(1), 5, "a number"), PluginOption("b", Boolean(), False, "")]
        self.assertTrue(verifyObject(IPluginOption, declared[0]))
        self.assertEqual(dict(convertOptions({"n": "3", "other": "x"}, declared)), {"n": 3, "b": False, "other": "x"})
        self.assertEqual(dict(convertOptions({"n": None}, declared)), {"n": 5, "b": False})
        error = self.assertRaises(ValueError, convertOptions, {"b": "maybe"}, declared)
        self.assertEqual(str(error), 'b: "maybe" is not true or false')


TEST_OPTIONS = (
    PluginOption("pong_interval", Float(0, 60), 0.0, "seconds"),
    PluginOption("greeting", String(), "hi", ""),
)
MODULE_OPTIONS = (PluginOption("loud", Boolean(), False, "shout"),)
PLUGIN = ComponentPlugin("test", "nowhere.make", "for tests", options=TEST_OPTIONS)
MODULE = ComponentModule("louder", ("test",), "nowhere.attach", "", options=f"{__name__}.MODULE_OPTIONS")


class LoaderTests(SynchronousTestCase):
    """
    The Prosody-style loader with declared options handed in.
    """

    def load(self, text: str) -> tuple[str, object]:
        path = FilePath(self.mktemp())
        path.setContent(text.encode())
        plugins, modules = {"test": PLUGIN}, {"louder": MODULE}
        return path.path, loadConfig(
            path.path, plugins=plugins, modules=modules,
            pluginOptions=optionSchemas(plugins), moduleOptions=optionSchemas(modules),
        )

    def test_knownAndConverted(self) -> None:
        """
        C{pong_interval = 5} under the plugin's Component is known (no
        warning, no unrelated hint) and arrives as a float; an unset option
        has its default; a module's option (named by a dotted name) too.
        """
        _, config = self.load('Component "t.example" "test"\n  modules_enabled = { "louder" }\n  pong_interval = 5\n  loud = "true"\n')
        self.assertEqual(config.warnings, ())  # type: ignore[attr-defined]
        options = config.components["t.example"].options  # type: ignore[attr-defined]
        self.assertEqual((options["pong_interval"], options["greeting"], options["loud"]), (5.0, "hi", True))

    def test_wrongValueAtItsLine(self) -> None:
        """
        A refused value is C{file:line: name: why} at the option's own line.
        """
        error = self.assertRaises(ConfigError, self.load, 'Component "t.example" "test"\n\n  pong_interval = "soon"\n')
        self.assertTrue(str(error).endswith(':3: pong_interval: "soon" is not a number from 0 to 60'), str(error))

    def test_globalOption(self) -> None:
        """
        A declared option set globally is known, converted for the component
        and refused at the global line.
        """
        _, config = self.load('pong_interval = 2\nComponent "t.example" "test"\n')
        self.assertEqual(config.warnings, ())  # type: ignore[attr-defined]
        self.assertEqual(config.components["t.example"].options["pong_interval"], 2.0)  # type: ignore[attr-defined]
        error = self.assertRaises(ConfigError, self.load, 'pong_interval = -1\nComponent "t.example" "test"\n')
        self.assertIn(":1: pong_interval: ", str(error))

    def test_otherComponentsWarn(self) -> None:
        """
        The name is known only where a component declaring it sees it: under
        an external component it is still an unknown option.
        """
        path, config = self.load(
            'Component "t.example" "test"\nComponent "e.example"\n  component_secret = "s"\n  pong_interval = 5\n'
        )
        self.assertEqual(config.warnings, (f"{path}:4: unknown option 'pong_interval' under Component \"e.example\"",))  # type: ignore[attr-defined]

    def test_hint(self) -> None:
        """
        A misspelt declared name gets it as the hint.
        """
        path, config = self.load('Component "t.example" "test"\n  pong_intervall = 5\n')
        [warning] = config.warnings  # type: ignore[attr-defined]
        self.assertTrue(warning.endswith("(did you mean 'pong_interval'?)"), warning)


class ListPluginsTests(SynchronousTestCase):
    """
    C{--list-plugins} shows each plugin's and module's options.
    """

    def test_text(self) -> None:
        """
        Each option is listed under its plugin with its type, default and doc.
        """
        text = listPlugins({"test": PLUGIN}, {"louder": MODULE})
        self.assertEqual(
            text,
            'Component plugins (Component "domain" "plugin"):\n'
            "  test         for tests\n"
            "    pong_interval (number 0..60, default 0.0): seconds\n"
            '    greeting (string, default "hi")\n'
            "Component modules (modules_enabled under a Component):\n"
            "  louder        [extends: test]\n"
            "    loud (boolean, default false): shout\n",
        )

    def test_muc(self) -> None:
        """
        The installed C{muc} and C{muc_mam} show their Prosody options.
        """
        options = Options()
        options.stdout = io.StringIO()
        self.assertRaises(SystemExit, options.parseOptions, ["--list-plugins"])
        text = options.stdout.getvalue()
        self.assertIn(
            '    restrict_room_creation (one of false, "admin", "local", true, default false): who creates rooms', text
        )
        self.assertIn("    muc_tombstone_expiry (integer >= 0, default 2678400): seconds a tombstone is kept\n", text)
        self.assertIn("    muc_log_expires_after (period", text)


class ExampleTests(SynchronousTestCase):
    """
    C{examples/xcomp-ping} declares C{name} and C{pong_interval}.
    """

    def setUp(self) -> None:
        installExample(self)

    def writeConfig(self, text: str) -> str:
        path = FilePath(self.mktemp())
        path.setContent(text.encode())
        return path.path

    def test_pongIntervalKnown(self) -> None:
        """
        C{pong_interval = 5} under the ping Component loads with no warning.
        """
        path = self.writeConfig('Component "ping.example" "ping"\n  pong_interval = 5\n')
        options = Options()
        options.parseOptions(["-c", path])
        self.assertEqual(options["parsed"].warnings, ())
        self.assertEqual(options["parsed"].components["ping.example"].options["pong_interval"], 5.0)

    def test_pongIntervalRefused(self) -> None:
        """
        A wrong value stops startup with C{file:line: pong_interval: ...}.
        """
        path = self.writeConfig('Component "ping.example" "ping"\n  name = "P"\n  pong_interval = "soon"\n')
        error = self.assertRaises(SystemExit, Options().parseOptions, ["-c", path])
        self.assertEqual(str(error.code), f'{path}:3: pong_interval: "soon" is not a number from 0 to 60')

    def test_pluginFileCheap(self) -> None:
        """
        The example's plugin file, which declares its options inline,
        imports neither wokkel nor the component.
        """
        plugins = FilePath(sys.path[0]).child("twisted").child("plugins").child("xcomp_ping.py")
        code = (
            f"import runpy, sys; runpy.run_path({plugins.path!r}); "
            "print(sorted(m for m in sys.modules if m.startswith(('xcomp', 'wokkel'))))"
        )
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
        self.assertEqual(output.strip(), "['xcomp', 'xcomp.interfaces', 'xcomp.plugin', 'xcomp.pluginoptions']")


class DocsExampleTests(SynchronousTestCase):
    """
    The example plugin in C{docs/plugins.md}, taken from the page, loads
    with the public API alone and answers.
    """

    def blocks(self) -> list[str]:
        if not DOCS.exists():
            raise SkipTest("docs/ is not there (not a source checkout)")
        return re.findall(r"```python\n(.*?)```", DOCS.getContent().decode(), re.S)

    def test_loadsAndAnswers(self) -> None:
        """
        The page's component and plugin file, run as written: a ping is
        answered after C{pong_interval}, and disco#info shows the identity
        and the ping and disco#info features.
        """
        [component] = [b for b in self.blocks() if "def makeComponent" in b]
        [pluginFile] = [b for b in self.blocks() if "examples/xcomp-ping/twisted/plugins" in b]
        self.assertNotIn("_wokkel", component + pluginFile)
        module = types.ModuleType("xcomp_docs_example")
        exec(compile(component, str(DOCS.path), "exec"), module.__dict__)
        sys.modules[module.__name__] = module
        self.addCleanup(sys.modules.pop, module.__name__)
        namespace: dict[str, object] = {}
        exec(compile(pluginFile, str(DOCS.path), "exec"), namespace)
        provider = namespace["ping"]
        assert isinstance(provider, ComponentPlugin)
        ping = attrs.evolve(provider, factory="xcomp_docs_example.makeComponent")

        harness = ComponentHarness.forPlugin(ping, "ping.example.org", {"pong_interval": "0.5"})
        harness.start()
        self.addCleanup(harness.stop)
        user = harness.external("users.example.org")
        user.send("<iq type='get' id='p' to='ping.example.org' from='a@users.example.org/x'>"
                  f"<ping xmlns='{NS_PING}'/></iq>")
        self.assertEqual(user.take(), [])
        harness.advance(0.5)
        [reply] = user.take()
        self.assertEqual((reply["type"], reply["id"]), ("result", "p"))
        user.send("<iq type='get' id='d' to='ping.example.org' from='a@users.example.org/x'>"
                  f"<query xmlns='{NS_DISCO_INFO}'/></iq>")
        [info] = user.take()
        query = next(info.elements(NS_DISCO_INFO, "query"))
        [identity] = query.elements(NS_DISCO_INFO, "identity")
        self.assertEqual(identity["name"], "Ping responder")
        features = {f["var"] for f in query.elements(NS_DISCO_INFO, "feature")}
        self.assertEqual(features & {NS_PING, NS_DISCO_INFO}, {NS_PING, NS_DISCO_INFO})


