"""
Tests for L{xcomp.config.lua}: reading and running a Prosody-style file,
its bounds, and Prosody's scoping of options.
"""

from __future__ import annotations

import os

from xcomp.config import ConfigError, Location, loadConfig
from xcomp.config.lua import runtime
from xcomp.test.test_config import _ConfigTestCase


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
