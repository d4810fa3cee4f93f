"""
Tests for L{xcomp.config} and L{xcomp.config.lua}: Prosody-style configuration
files evaluated as Lua and turned into the frozen model.
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

from xcomp.config import lua
from xcomp.config.lua import runtime
from xcomp.tls import checkListeners
from xcomp.test.certs import TestCA
from xcomp.config import (
    ComponentConfig,
    ConfigError,
    InternalComponentConfig,
    ListenerConfig,
    Location,
    LogSink,
    RouterConfig,
    TLSConfig,
    loadConfig,
)

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


class FileTests(_ConfigTestCase):
    """
    Reading files, and Lua errors.
    """

    def test_missingFile(self) -> None:
        """
        A configuration file that does not exist is an error naming it.
        """
        error = self.assertRaises(ConfigError, loadConfig, self.path)
        self.assertIsNone(error.location)
        self.assertEqual(
            str(error),
            f"{self.path}: cannot read the configuration file: No such file or directory",
        )

    def test_unreadableFile(self) -> None:
        """
        A configuration path that cannot be read is an error naming it.
        """
        error = self.assertRaises(ConfigError, loadConfig, self.directory)
        self.assertEqual(
            str(error), f"{self.directory}: cannot read the configuration file: Is a directory"
        )

    def test_syntaxError(self) -> None:
        """
        A Lua syntax error is reported with Lua's message at its line.
        """
        self.assertEqual(
            self.fails("admins = {}\nx = \n\n = 3\n"),
            self.at(4, "unexpected symbol near '='"),
        )

    def test_runtimeError(self) -> None:
        """
        A Lua runtime error is reported with Lua's message at its line.
        """
        self.assertEqual(
            self.fails("admins = {}\nnosuch()\n"),
            self.at(2, "attempt to call a nil value (global 'nosuch')"),
        )

    def test_errorCalled(self) -> None:
        """
        C{error()} in the configuration is reported at its line.
        """
        self.assertEqual(self.fails('\nerror("no way")\n'), self.at(2, "no way"))
        self.assertEqual(self.fails('\n\nerror("no way", 0)\n'), self.at(3, "no way"))

    def test_errorObject(self) -> None:
        """
        An error that is not a string is described, at its line.
        """
        self.assertEqual(self.fails("error({})\n"), self.at(1, "(error object is a table value)"))

    def test_errorInFunction(self) -> None:
        """
        An error inside a function of the configuration is reported where it
        happens.
        """
        self.assertEqual(
            self.fails("local function f()\n  return nil .. 'x'\nend\nf()\n"),
            self.at(2, "attempt to concatenate a nil value"),
        )

    def test_endlessLoop(self) -> None:
        """
        A configuration that runs too long is stopped and reported.
        """
        self.patch(runtime, "MAX_INSTRUCTIONS", 1_000_000)
        self.assertEqual(
            self.fails("admins = {}\nwhile true do end\n"),
            self.at(
                2,
                "the configuration did not finish within 1000000 Lua instructions "
                "(an endless loop?)",
            ),
        )

    def test_memoryLimit(self) -> None:
        """
        A configuration that allocates too much memory is stopped and reported.
        """
        self.patch(runtime, "MAX_MEMORY", 16 * 1024 * 1024)
        self.assertEqual(
            self.fails('local t = {}\nfor i = 1, 1e9 do t[i] = ("x"):rep(100) .. i end\n'),
            f"{self.path}: the configuration used more than 16777216 bytes of memory",
        )


class ScopeTests(_ConfigTestCase):
    """
    Prosody's scoping: options belong to the section they follow.
    """

    def test_optionsFollowTheirBlock(self) -> None:
        """
        Options after C{Component "x"} are its own until the next block;
        options before any block are global.
        """
        config = self.load(
            'name = "global"\n'
            'Component "a.example.org"\n  component_secret = "a"\n  name = "A"\n'
            'Component "b.example.org"\n  component_secret = "b"\n'
        )
        self.assertEqual(config.options["name"], "global")
        self.assertEqual(self.component(config, "a.example.org").name, "A")
        self.assertEqual(self.component(config, "b.example.org").name, "global")

    def test_componentTableForm(self) -> None:
        """
        C{Component "x" { ... }} sets the component's options, and later
        options are global again.
        """
        config = self.load(
            'Component "a.example.org" { component_secret = "a"; name = "A" }\n'
            'component_secret = "global"\n'
            'Component "b.example.org"\n'
        )
        self.assertEqual(self.component(config, "a.example.org").name, "A")
        self.assertEqual(self.component(config, "a.example.org").secret, "a")
        self.assertEqual(self.component(config, "b.example.org").secret, "global")

    def test_virtualHostTableForm(self) -> None:
        """
        C{VirtualHost "x" { ... }} sets the host's options, and later options
        are global again.
        """
        config = self.load('VirtualHost "example.org" { name = "Ex" }\nname = "global"\n')
        self.assertEqual(config.virtualHosts["example.org"].name, "Ex")
        self.assertEqual(config.options["name"], "global")

    def test_virtualHostModuleName(self) -> None:
        """
        C{VirtualHost "x" "plugin"} is an error, as in Prosody.
        """
        self.assertEqual(
            self.fails('\nVirtualHost "example.org" "muc"\n'),
            self.at(
                2,
                'VirtualHost entries do not accept a module name (module "muc" '
                'provided for host "example.org")',
            ),
        )

    def test_tableFormNotATable(self) -> None:
        """
        Calling a block with something other than a table is an error.
        """
        self.assertEqual(
            self.fails('Component "a.example.org" (5)\n'),
            self.at(1, 'Component "a.example.org": expected a table of options, got a number'),
        )

    def test_lowercaseAliases(self) -> None:
        """
        C{Host}, C{host}, C{virtualhost}, C{component} and C{include} work.
        """
        self.write("more.cfg.lua", 'component "c.example.org"\n')
        config = self.load(
            'component_secret = "s"\nHost "a.org"\nhost "b.org"\nvirtualhost "c.org"\n'
            'component "a.example.org"\ninclude "more.cfg.lua"\n'
        )
        self.assertEqual(sorted(config.virtualHosts), ["a.org", "b.org", "c.org"])
        self.assertEqual(sorted(config.components), ["a.example.org", "c.example.org"])

    def test_loopsAndConcatenation(self) -> None:
        """
        Components may be declared in a loop with computed names and options.
        """
        config = self.load(
            'local base = "example.org"\n'
            'for _, n in ipairs({ "a", "b" }) do\n'
            '  Component (n .. "." .. base)\n'
            '    component_secret = "secret-" .. n\n'
            "end\n"
        )
        self.assertEqual(self.component(config, "a.example.org").secret, "secret-a")
        self.assertEqual(self.component(config, "b.example.org").secret, "secret-b")
        location = self.component(config, "b.example.org").location
        assert location is not None
        self.assertEqual(location.line, 3)

    def test_localsAreNotOptions(self) -> None:
        """
        Local variables are not options and cause no warning.
        """
        config = self.load('local secret = "s"\ncomponent_secret = secret\n')
        self.assertEqual(config.warnings, ())
        self.assertNotIn("secret", config.options)

    def test_optionsAreNotReadBack(self) -> None:
        """
        As in Prosody 0.12, reading an option's name gives Lua's global of that
        name (usually nil), not the option.
        """
        config = self.load('admins = { "x" }\ncontact_info = type(admins)\n')
        self.assertEqual(config.options["contact_info"], "nil")

    def test_luaGlobals(self) -> None:
        """
        Undefined names fall back to Lua's globals, and C{Lua} is the global
        table.
        """
        config = self.load(
            'Component "a.example.org"\n  component_secret = string.rep("x", 3)\n'
            '  name = Lua.string.upper("bot")\n'
        )
        self.assertEqual(self.component(config, "a.example.org").secret, "xxx")
        self.assertEqual(self.component(config, "a.example.org").name, "BOT")

    def test_noPythonBridge(self) -> None:
        """
        lupa's C{python} module is not reachable from the configuration.
        """
        self.assertEqual(self.load("contact_info = type(python)\n").options["contact_info"], "nil")

    def test_environmentVariable(self) -> None:
        """
        C{ENV_NAME} reads the environment variable C{NAME}; unset, it is nil.
        """
        os.environ["XCOMP_TEST_SECRET"] = "from-env"
        self.addCleanup(os.environ.pop, "XCOMP_TEST_SECRET")
        config = self.load(
            'component_secret = ENV_XCOMP_TEST_SECRET\nname = ENV_XCOMP_TEST_UNSET or "d"\n'
            'Component "a.example.org"\n'
        )
        self.assertEqual(self.component(config, "a.example.org").secret, "from-env")
        self.assertEqual(config.options["name"], "d")

    def test_virtualHost(self) -> None:
        """
        A VirtualHost has its domain, C{name}, options and location.
        """
        config = self.load('admins = {}\nVirtualHost "example.org"\n  name = "Example"\n')
        host = config.virtualHosts["example.org"]
        self.assertEqual(
            (host.domain, host.name, dict(host.options), host.location),
            ("example.org", "Example", {"admins": (), "name": "Example"}, Location(self.path, 2)),
        )

    def test_runScript(self) -> None:
        """
        C{RunScript} runs a Lua file with the real globals, as in Prosody.
        """
        self.write("script.lua", "xcomp_test_value = 42\n")
        config = self.load('RunScript "script.lua"\ncontact_info = tostring(xcomp_test_value)\n')
        self.assertEqual(config.options["contact_info"], "42")

    def test_optionNameNotString(self) -> None:
        """
        A table of options with a key that is not a name warns and is ignored.
        """
        config = self.load('VirtualHost "a.org" { "oops" }\n')
        self.assertEqual(dict(config.virtualHosts["a.org"].options), {})
        self.assertEqual(
            config.warnings,
            (self.at(1, "ignoring option 1 under VirtualHost \"a.org\": option names are strings"),),
        )

    def test_invalidUTF8(self) -> None:
        """
        Text that is not UTF-8 is kept as bytes in an option xcomp does not
        use, and is an error in one it uses.
        """
        config = self.load('contact_info = "\\255"\n')
        self.assertEqual(config.options["contact_info"], b"\xff")
        self.assertEqual(
            self.fails('\nname = "\\255"\n'), self.at(2, "name: the text is not valid UTF-8")
        )

    def test_nilRemovesOption(self) -> None:
        """
        Setting an option to nil unsets it, so the global value applies again.
        """
        config = self.load(
            'component_secret = "global"\n'
            'Component "a.example.org"\n  component_secret = "own"\n  component_secret = nil\n'
        )
        self.assertEqual(self.component(config, "a.example.org").secret, "global")

    def test_duplicateOptionWarns(self) -> None:
        """
        Setting an option twice in one section warns, and the last value
        is used.
        """
        config = self.load('name = "a"\nname = "b"\n')
        self.assertEqual(config.options["name"], "b")
        self.assertEqual(
            config.warnings, (self.at(2, "duplicate option 'name'; the last value is used"),)
        )

    def test_functionValueWarns(self) -> None:
        """
        An option xcomp does not use whose value is a Lua function is left out
        with a warning.
        """
        config = self.load("contact_info = print\n")
        self.assertNotIn("contact_info", config.options)
        self.assertEqual(
            config.warnings,
            (
                self.at(
                    1,
                    "option 'contact_info' is a Lua function, which xcomp cannot use; "
                    "ignoring it",
                ),
            ),
        )

    def test_tableTooDeep(self) -> None:
        """
        A table that contains itself (or is too deep) is an error.
        """
        self.assertEqual(
            self.fails("local t = {}\nt.t = t\ncontact_info = t\n"),
            self.at(
                3,
                "option 'contact_info': tables are nested more than 32 deep "
                "(does a table contain itself?)",
            ),
        )

    def test_tableTooLarge(self) -> None:
        """
        A table with too many values is an error.
        """
        self.patch(runtime, "MAX_VALUE_ITEMS", 10)
        self.assertEqual(
            self.fails("local t = {}\nfor i = 1, 11 do t[i] = i end\ncontact_info = t\n"),
            self.at(3, "option 'contact_info': it holds more than 10 values"),
        )


class IncludeTests(_ConfigTestCase):
    """
    C{Include} and the file-reading functions.
    """

    def test_include(self) -> None:
        """
        C{Include} runs a file relative to the including file's directory; it
        starts in the global section, and the includer's section continues
        after it, as in Prosody.
        """
        self.write("conf.d/a.cfg.lua", 'name = "from-include"\nComponent "b.example.org"\n')
        config = self.load(
            'component_secret = "s"\nComponent "a.example.org"\n'
            'Include "conf.d/a.cfg.lua"\n  disco_hidden = true\n'
        )
        self.assertEqual(config.options["name"], "from-include")
        self.assertTrue(self.component(config, "a.example.org").discoHidden)
        self.assertFalse(self.component(config, "b.example.org").discoHidden)
        self.assertEqual(
            self.component(config, "b.example.org").location,
            Location(os.path.join(self.directory, "conf.d/a.cfg.lua"), 2),
        )

    def test_includeGlob(self) -> None:
        """
        A wildcard in the file name includes every matching file in name
        order, skipping hidden files and other names.
        """
        self.write("conf.d/b.cfg.lua", 'Component "b.example.org"\n')
        self.write("conf.d/a.cfg.lua", 'Component "a.example.org"\n')
        self.write("conf.d/.c.cfg.lua", 'Component "c.example.org"\n')
        self.write("conf.d/d.txt", 'Component "d.example.org"\n')
        config = self.load('component_secret = "s"\nInclude "conf.d/*.cfg.lua"\n')
        self.assertEqual(list(config.components), ["a.example.org", "b.example.org"])

    def test_includeGlobNoMatch(self) -> None:
        """
        A wildcard that matches nothing includes nothing.
        """
        os.makedirs(os.path.join(self.directory, "conf.d"))
        self.assertEqual(self.load('Include "conf.d/*.cfg.lua"\n').components, {})

    def test_includeGlobMissingDirectory(self) -> None:
        """
        A wildcard in a directory that does not exist is an error.
        """
        self.assertEqual(
            self.fails('\nInclude "nodir/*.lua"\n'),
            self.at(
                2,
                f'Include "nodir/*.lua": cannot list '
                f"{os.path.join(self.directory, 'nodir')}: No such file or directory",
            ),
        )

    def test_includeMissing(self) -> None:
        """
        Including a file that does not exist is an error at the C{Include}.
        """
        self.assertEqual(
            self.fails('admins = {}\nInclude "missing.cfg.lua"\n'),
            self.at(
                2,
                f'Include "missing.cfg.lua": cannot read '
                f"{os.path.join(self.directory, 'missing.cfg.lua')}: No such file or directory",
            ),
        )

    def test_includeLoop(self) -> None:
        """
        A file that includes itself is stopped.
        """
        self.assertEqual(
            self.fails('Include "prosody.cfg.lua"\n'),
            self.at(
                1,
                'Include "prosody.cfg.lua": includes are nested more than 16 deep '
                "(does a file include itself?)",
            ),
        )

    def test_errorInIncludedFile(self) -> None:
        """
        An error in an included file is reported with that file and line.
        """
        self.write("conf.d/x.cfg.lua", "\n\nnosuch()\n")
        self.assertEqual(
            self.fails('Include "conf.d/x.cfg.lua"\n'),
            self.at(3, "attempt to call a nil value (global 'nosuch')", "conf.d/x.cfg.lua"),
        )

    def test_syntaxErrorInIncludedFile(self) -> None:
        """
        A syntax error in an included file is reported with that file and line.
        """
        self.write("x.cfg.lua", "x = = 1\n")
        self.assertEqual(
            self.fails('\nInclude "x.cfg.lua"\n'),
            self.at(1, "unexpected symbol near '='", "x.cfg.lua"),
        )

    def test_nestedIncludeRelative(self) -> None:
        """
        An included file includes relative to its own directory.
        """
        self.write("conf.d/a.cfg.lua", 'Include "b.cfg.lua"\n')
        self.write("conf.d/b.cfg.lua", 'contact_info = "nested"\n')
        config = self.load('Include "conf.d/a.cfg.lua"\n')
        self.assertEqual(config.options["contact_info"], "nested")

    def test_fileContents(self) -> None:
        """
        C{FileContents} gives a file's text, relative to the configuration.
        """
        self.write("secret.txt", "abc\ndef\n")
        config = self.load('component_secret = FileContents "secret.txt"\nComponent "a.org"\n')
        self.assertEqual(self.component(config, "a.org").secret, "abc\ndef\n")

    def test_fileLine(self) -> None:
        """
        C{FileLine} gives a file's first line without its newline.
        """
        self.write("secret.txt", "abc\ndef\n")
        config = self.load('component_secret = FileLine "secret.txt"\nComponent "a.org"\n')
        self.assertEqual(self.component(config, "a.org").secret, "abc")

    def test_fileLines(self) -> None:
        """
        C{FileLines} gives a list of a file's lines.
        """
        self.write("admins.txt", "a@example.org\nb@example.org\n")
        config = self.load('admins = FileLines "admins.txt"\n')
        self.assertEqual(config.options["admins"], ("a@example.org", "b@example.org"))

    def test_fileContentsMissing(self) -> None:
        """
        Reading a missing file is an error at the line that reads it.
        """
        self.assertEqual(
            self.fails('\ncomponent_secret = FileLine "nope.txt"\n'),
            self.at(
                2,
                f'FileLine "nope.txt": cannot read {os.path.join(self.directory, "nope.txt")}: '
                "No such file or directory",
            ),
        )


class DomainTests(_ConfigTestCase):
    """
    Host names, and duplicates.
    """

    def test_nameprep(self) -> None:
        """
        Component and VirtualHost names are nameprep'd: lowercase and
        normalised, trailing dot removed.
        """
        config = self.load(
            'component_secret = "s"\nComponent "Gateway.EXAMPLE.org"\n'
            'Component "\uff42\uff4f\uff54.example.org."\nVirtualHost "Example.ORG"\n'
        )
        self.assertEqual(sorted(config.components), ["bot.example.org", "gateway.example.org"])
        self.assertEqual(list(config.virtualHosts), ["example.org"])

    def test_invalidDomain(self) -> None:
        """
        A name that cannot be a JID domain is an error.
        """
        self.assertEqual(
            self.fails('\nComponent "user@example.org"\n'),
            self.at(
                2,
                'Component "user@example.org" is not a valid domain: invalid character \'@\'',
            ),
        )

    def test_emptyLabel(self) -> None:
        """
        A name with an empty label is an error.
        """
        self.assertEqual(
            self.fails('VirtualHost "a..org"\n'),
            self.at(1, 'VirtualHost "a..org" is not a valid domain: it has an empty label'),
        )

    def test_emptyDomain(self) -> None:
        """
        An empty name is an error.
        """
        self.assertEqual(
            self.fails('Component ""\n'),
            self.at(1, 'Component "" is not a valid domain: the domain is empty'),
        )

    def test_noName(self) -> None:
        """
        C{Component} without a name is an error.
        """
        self.assertEqual(self.fails("Component()\n"), self.at(1, "Component must have a name"))

    def test_nameNotString(self) -> None:
        """
        A name that is not a string is an error.
        """
        self.assertEqual(
            self.fails("VirtualHost(5)\n"),
            self.at(1, "VirtualHost name must be a string, not a number"),
        )

    def test_duplicateComponent(self) -> None:
        """
        The same Component twice (after nameprep) is an error at the second.
        """
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = "s"\nComponent "A.org"\n'),
            self.at(3, f'Component "a.org" is already defined at {self.path}:1'),
        )

    def test_duplicateVirtualHost(self) -> None:
        """
        The same VirtualHost twice is an error at the second.
        """
        self.assertEqual(
            self.fails('VirtualHost "a.org"\nVirtualHost "a.org"\n'),
            self.at(2, f'VirtualHost "a.org" is already defined at {self.path}:1'),
        )

    def test_componentClashesWithVirtualHost(self) -> None:
        """
        A Component named like a VirtualHost is an error.
        """
        self.assertEqual(
            self.fails('VirtualHost "a.org"\nComponent "a.org"\n'),
            self.at(
                2,
                f'Component "a.org" clashes with VirtualHost "a.org" defined at '
                f"{self.path}:1; for services use a sub-domain like conference.a.org",
            ),
        )

    def test_virtualHostClashesWithComponent(self) -> None:
        """
        A VirtualHost named like a Component is an error.
        """
        self.assertEqual(
            self.fails('Component "a.org" { component_secret = "s" }\nVirtualHost "a.org"\n'),
            self.at(
                2,
                f'VirtualHost "a.org" clashes with Component "a.org" defined at '
                f"{self.path}:1; for services use a sub-domain like conference.a.org",
            ),
        )


class ComponentTests(_ConfigTestCase):
    """
    External components and their options.
    """

    def test_defaults(self) -> None:
        """
        An external component with only a secret gets the defaults.
        """
        config = self.load('Component "a.org"\n  component_secret = "s"\n')
        self.assertEqual(
            self.component(config, "a.org"),
            ComponentConfig(
                domain="a.org",
                secret="s",
                name=None,
                discoHidden=False,
                validateFrom=True,
                conflictResolve="kick_new",
                stanzaSizeLimit=512 * 1024,
                tls=None,
                options={},
                location=Location(self.path, 1),
            ),
        )

    def test_globalSecret(self) -> None:
        """
        A global C{component_secret} is every component's default.
        """
        config = self.load('component_secret = "g"\nComponent "a.org"\n')
        self.assertEqual(self.component(config, "a.org").secret, "g")

    def test_noSecret(self) -> None:
        """
        A Component with no secret, here or global, is an error at its line.
        """
        self.assertEqual(
            self.fails('admins = {}\nComponent "a.org"\n  name = "A"\n'),
            self.at(
                2,
                'Component "a.org": no component_secret is set for this component '
                "or in the global section",
            ),
        )

    def test_emptySecret(self) -> None:
        """
        An empty secret is an error at its line.
        """
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = ""\n'),
            self.at(2, 'Component "a.org": component_secret: the secret is empty'),
        )

    def test_secretNotString(self) -> None:
        """
        A secret that is not a string is an error that does not show it.
        """
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = { "hidden-value", "x" }\n'),
            self.at(2, 'Component "a.org": component_secret: expected a string, not a table'),
        )

    def test_numericSecret(self) -> None:
        """
        A number as the secret is its text, as Prosody reads it.
        """
        config = self.load('Component "a.org"\n  component_secret = 12345\n')
        self.assertEqual(self.component(config, "a.org").secret, "12345")

    def test_name(self) -> None:
        """
        C{name} sets the component's disco name.
        """
        config = self.load('component_secret = "s"\nComponent "a.org"\n  name = "Gateway"\n')
        self.assertEqual(self.component(config, "a.org").name, "Gateway")

    def test_nameInvalid(self) -> None:
        """
        A C{name} that is not text is an error.
        """
        self.assertEqual(
            self.fails('component_secret = "s"\nComponent "a.org"\n  name = { a = 1 }\n'),
            self.at(3, 'Component "a.org": name: a table is not a string'),
        )

    def test_discoHidden(self) -> None:
        """
        C{disco_hidden = true} hides the component.
        """
        config = self.load('component_secret = "s"\nComponent "a.org"\n  disco_hidden = true\n')
        self.assertTrue(self.component(config, "a.org").discoHidden)

    def test_discoHiddenInvalid(self) -> None:
        """
        A C{disco_hidden} that is not a boolean is an error.
        """
        self.assertEqual(
            self.fails('component_secret = "s"\nComponent "a.org"\n  disco_hidden = "maybe"\n'),
            self.at(3, 'Component "a.org": disco_hidden: "maybe" is not true or false'),
        )

    def test_validateFrom(self) -> None:
        """
        C{validate_from_addresses = false} turns the check off; Prosody's
        spellings C{"false"} and 0 work too.
        """
        for value in ("false", '"false"', "0"):
            config = self.load(
                f'component_secret = "s"\nComponent "a.org"\n  validate_from_addresses = {value}\n'
            )
            self.assertFalse(self.component(config, "a.org").validateFrom)

    def test_validateFromGlobal(self) -> None:
        """
        A global C{validate_from_addresses} applies to every component.
        """
        config = self.load(
            'component_secret = "s"\nvalidate_from_addresses = false\nComponent "a.org"\n'
        )
        self.assertFalse(self.component(config, "a.org").validateFrom)

    def test_conflictResolve(self) -> None:
        """
        C{component_conflict_resolve = "kick_old"} is read.
        """
        config = self.load(
            'component_secret = "s"\nComponent "a.org"\n  component_conflict_resolve = "kick_old"\n'
        )
        self.assertEqual(self.component(config, "a.org").conflictResolve, "kick_old")

    def test_conflictResolveInvalid(self) -> None:
        """
        Another C{component_conflict_resolve} is an error, also in the global
        section when no component uses it.
        """
        self.assertEqual(
            self.fails('\ncomponent_conflict_resolve = "kick_both"\n'),
            self.at(2, 'component_conflict_resolve: "kick_both" is not one of "kick_new", "kick_old"'),
        )

    def test_stanzaSizeLimit(self) -> None:
        """
        C{component_stanza_size_limit} is read per component, with the global
        value as default and as L{RouterConfig.stanzaSizeLimit}.
        """
        config = self.load(
            'component_secret = "s"\ncomponent_stanza_size_limit = 10000\n'
            'Component "a.org"\n  component_stanza_size_limit = 2000\nComponent "b.org"\n'
        )
        self.assertEqual(config.stanzaSizeLimit, 10000)
        self.assertEqual(self.component(config, "a.org").stanzaSizeLimit, 2000)
        self.assertEqual(self.component(config, "b.org").stanzaSizeLimit, 10000)

    def test_stanzaSizeLimitDefault(self) -> None:
        """
        Without the option the limit is 512 KiB, or C{s2s_stanza_size_limit}
        when set, as in Prosody's mod_component.
        """
        self.assertEqual(self.load("").stanzaSizeLimit, 512 * 1024)
        self.assertEqual(self.load("s2s_stanza_size_limit = 4096\n").stanzaSizeLimit, 4096)

    def test_stanzaSizeLimitInvalid(self) -> None:
        """
        A limit that is not a positive integer is an error.
        """
        self.assertEqual(
            self.fails("component_stanza_size_limit = 0\n"),
            self.at(1, "component_stanza_size_limit: 0 is not an integer of at least 1"),
        )
        self.assertEqual(
            self.fails('component_stanza_size_limit = "big"\n'),
            self.at(1, 'component_stanza_size_limit: "big" is not an integer of at least 1'),
        )

    def test_tls(self) -> None:
        """
        C{ssl} under a component gives its certificate and key, relative
        paths resolved against the configuration's directory, and LuaSec's
        C{protocol} the versions allowed.
        """
        config = self.load(
            'component_secret = "s"\nComponent "a.org"\n'
            '  ssl = { certificate = "certs/a.crt"; key = "/etc/a.key"; protocol = "tlsv1_2+" }\n'
        )
        self.assertEqual(
            self.component(config, "a.org").tls,
            TLSConfig(
                os.path.abspath(os.path.join(self.directory, "certs/a.crt")),
                "/etc/a.key",
                versions=("tlsv1.2", "tlsv1.3"),
            ),
        )

    def test_tlsWithoutCertificate(self) -> None:
        """
        An C{ssl} table with settings but no certificate gives no TLS.
        """
        config = self.load('component_secret = "s"\nssl = { protocol = "tlsv1_2+" }\nComponent "a.org"\n')
        self.assertIsNone(self.component(config, "a.org").tls)

    def test_tlsWithoutKey(self) -> None:
        """
        A certificate without a key is an error.
        """
        self.assertEqual(
            self.fails('Component "a.org" { component_secret = "s"; ssl = { certificate = "a" } }\n'),
            self.at(1, 'Component "a.org": ssl: key must be set to a file name'),
        )

    def test_options(self) -> None:
        """
        A component's options are the global ones merged with its own,
        without the secret.
        """
        config = self.load(
            'component_secret = "s"\ncontact_info = { abuse = { "a" } }\nname = "g"\n'
            'Component "a.org"\n  name = "A"\n  muc_whatever = true\n'
        )
        options = self.component(config, "a.org").options
        self.assertEqual(set(options), {"contact_info", "name", "muc_whatever"})
        self.assertEqual((options["name"], options["muc_whatever"]), ("A", True))

    def test_externalModule(self) -> None:
        """
        C{Component "x" "component"} is an external component, as in Prosody,
        and its C{modules_enabled} is ignored.
        """
        config = self.load(
            'Component "a.org" "component"\n  component_secret = "s"\n'
            '  modules_enabled = { "nosuch" }\n'
        )
        self.assertEqual(config.warnings, ())
        self.assertIsInstance(config.components["a.org"], ComponentConfig)

    def test_disabled(self) -> None:
        """
        A component with C{enabled = false} is left out (and not checked), as
        Prosody does not start it.
        """
        config = self.load('Component "a.org"\n  enabled = false\nVirtualHost "b.org"\n')
        self.assertEqual(dict(config.components), {})
        self.assertEqual(list(config.virtualHosts), ["b.org"])

    def test_disabledGlobally(self) -> None:
        """
        A global C{enabled = false} disables every host that does not enable
        itself.
        """
        config = self.load(
            'enabled = false\ncomponent_secret = "s"\nComponent "a.org"\n'
            'Component "b.org"\n  enabled = true\n'
        )
        self.assertEqual(list(config.components), ["b.org"])


class InternalComponentTests(_ConfigTestCase):
    """
    C{Component "x" "plugin"}.
    """

    def test_internalComponent(self) -> None:
        """
        A plugin component gets its plugin, its own modules and its options.
        """
        config = self.load(
            'modules_enabled = { "disco" }\n'
            'Component "conference.example.org" "muc"\n'
            '  modules_enabled = { "muc_mam" }\n  name = "Rooms"\n  disco_hidden = true\n',
            plugins=["muc"],
            modules=["muc_mam"],
        )
        self.assertEqual(
            config.components["conference.example.org"],
            InternalComponentConfig(
                domain="conference.example.org",
                plugin="muc",
                modules=("muc_mam",),
                name="Rooms",
                discoHidden=True,
                options=config.components["conference.example.org"].options,
                location=Location(self.path, 2),
            ),
        )

    def test_noGlobalModules(self) -> None:
        """
        An internal component does not inherit the global C{modules_enabled}.
        """
        config = self.load(
            'modules_enabled = { "disco" }\nComponent "c.org" "muc"\n', plugins=["muc"]
        )
        component = config.components["c.org"]
        assert isinstance(component, InternalComponentConfig)
        self.assertEqual(component.modules, ())

    def test_tableForm(self) -> None:
        """
        C{Component "x" "plugin" { ... }} sets the component's options.
        """
        config = self.load(
            'Component "c.org" "muc" { modules_enabled = { "muc_mam" } }\n',
            plugins=["muc"],
            modules=["muc_mam"],
        )
        component = config.components["c.org"]
        assert isinstance(component, InternalComponentConfig)
        self.assertEqual(component.modules, ("muc_mam",))

    def test_unknownPlugin(self) -> None:
        """
        A plugin that is not installed is an error listing what is.
        """
        self.assertEqual(
            self.fails('\nComponent "c.org" "nosuch"\n', plugins=["muc", "echo"]),
            self.at(
                2,
                'Component "c.org" "nosuch": there is no component plugin "nosuch" '
                "(installed: echo, muc)",
            ),
        )

    def test_noPluginsInstalled(self) -> None:
        """
        With no plugins installed, every plugin name is an error saying so.
        """
        self.assertEqual(
            self.fails('Component "c.org" "muc"\n'),
            self.at(
                1,
                'Component "c.org" "muc": there is no component plugin "muc" '
                "(no component plugins are installed)",
            ),
        )

    def test_unknownModule(self) -> None:
        """
        A module in an internal component's C{modules_enabled} that is not
        installed is an error at that option.
        """
        self.assertEqual(
            self.fails(
                'Component "c.org" "muc"\n  name = "x"\n  modules_enabled = { "muc_mam" }\n',
                plugins=["muc"],
            ),
            self.at(
                3,
                'Component "c.org" "muc": modules_enabled: module "muc_mam" is not '
                "installed (no component modules are installed)",
            ),
        )


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


class LogTests(_ConfigTestCase):
    """
    The C{log} option.
    """

    def test_default(self) -> None:
        """
        Without C{log}, no sink is added: twistd's own log (C{--logfile},
        C{--syslog}) is where Prosody would write by default.
        """
        self.assertEqual(self.load("").log, ())
        self.assertEqual(self.load("debug = true\n").log, ())

    def test_fileName(self) -> None:
        """
        A file name logs info and above there, relative to the configuration.
        """
        self.assertEqual(
            self.load('log = "xcomp.log"\n').log,
            (LogSink("info", os.path.abspath(os.path.join(self.directory, "xcomp.log"))),),
        )

    def test_console(self) -> None:
        """
        C{"*console"} or C{"*syslog"} alone logs every level there.
        """
        self.assertEqual(self.load('log = "*syslog"\n').log, (LogSink("debug", "*syslog"),))

    def test_levelTable(self) -> None:
        """
        C{{ level = target }} sends that level and above to each target.
        """
        self.assertEqual(
            self.load('log = { info = "/var/log/x.log"; error = "*syslog" }\n').log,
            (LogSink("info", "/var/log/x.log"), LogSink("error", "*syslog")),
        )

    def test_sinkList(self) -> None:
        """
        A list of sink tables and strings works for the common sinks.
        """
        config = self.load(
            'log = { { levels = { min = "warn" }, to = "file", filename = "/x.log" };'
            ' { levels = { "error" }, to = "console" }; "*syslog" }\n'
        )
        self.assertEqual(
            config.log,
            (LogSink("warn", "/x.log"), LogSink("error", "*console"), LogSink("debug", "*syslog")),
        )

    def test_unsupportedSink(self) -> None:
        """
        A sink type xcomp does not have is an error.
        """
        self.assertEqual(
            self.fails('log = { { to = "graylog" } }\n'),
            self.at(
                1,
                'log: unsupported sink to = "graylog" (xcomp writes to "file", "console" '
                'or "syslog")',
            ),
        )

    def test_unsupportedLevels(self) -> None:
        """
        Levels that are not a range up to C{error} are an error.
        """
        self.assertEqual(
            self.fails('log = { { levels = { "debug" }, to = "console" } }\n'),
            self.at(
                1,
                'log: levels must run from a minimum up to "error" (for example '
                'levels = { min = "info" })',
            ),
        )

    def test_unknownLevel(self) -> None:
        """
        An unknown level name is an error.
        """
        self.assertEqual(
            self.fails('log = { verbose = "*console" }\n'),
            self.at(1, 'log: unknown log level "verbose"'),
        )


class PathTests(_ConfigTestCase):
    """
    C{pidfile} and C{data_path}.
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
        config = self.load('pidfile = "run/xcomp.pid"\ndata_path = "/var/lib/xcomp"\n')
        self.assertEqual(
            config.pidfile, os.path.abspath(os.path.join(self.directory, "run/xcomp.pid"))
        )
        self.assertEqual(config.dataPath, "/var/lib/xcomp")


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
