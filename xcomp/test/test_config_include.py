"""
Tests for L{xcomp.config.lua.environment}: C{Include} and the
C{FileContents}, C{FileLine} and C{FileLines} functions.
"""

from __future__ import annotations

import os

from xcomp.config import Location
from xcomp.test.test_config import _ConfigTestCase


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
