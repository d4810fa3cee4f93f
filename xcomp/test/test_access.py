"""
Tests for L{xcomp.access}: access classes and rules in MongooseIM's shape.
"""

from __future__ import annotations

from typing import Callable

from twisted.trial.unittest import SynchronousTestCase

from xcomp.access import compileRule
from xcomp.config.acl import ACLPattern, AccessClause, SpecError, patternFromMapping
from xcomp.stanza import Stanza
from xcomp.test.helpers import stanza

HOSTS = ("example.org",)


def allowed(rule: Callable[[Stanza], bool] | None, sender: str | None) -> bool:
    """
    Whether C{rule} lets a message from C{sender} through.
    """
    assert rule is not None, "compileRule() gave the rule that lets everyone through"
    attribute = f" from='{sender}'" if sender is not None else ""
    return rule(stanza(f"<message{attribute} to='c.example'/>"))


class PatternTests(SynchronousTestCase):
    """
    What each pattern matches.
    """

    def matches(self, pattern: ACLPattern, sender: str) -> bool:
        """
        Whether a rule allowing only C{pattern} allows C{sender}.
        """
        rule = compileRule("r", {"c": (pattern,)}, {"r": (AccessClause("c", "allow"),)}, HOSTS)
        return allowed(rule, sender)

    def test_defaultMatchIsHostedDomains(self) -> None:
        """
        Without C{match} or a server condition, only JIDs of the configured
        hosts match (MongooseIM's C{current_domain}).
        """
        self.assertTrue(self.matches(ACLPattern(user="alice"), "alice@example.org/r"))
        self.assertFalse(self.matches(ACLPattern(user="alice"), "alice@elsewhere.example"))
        self.assertTrue(self.matches(ACLPattern(), "bob@example.org"))

    def test_serverConditionDecidesDomain(self) -> None:
        """
        With a server condition, the domain need not be hosted: a
        component's domain matches.
        """
        self.assertTrue(self.matches(ACLPattern(server="bot.example.net"), "bot.example.net"))
        self.assertFalse(self.matches(ACLPattern(server="bot.example.net"), "other.example.net"))

    def test_matchAllAndNone(self) -> None:
        """
        C{match = "all"} matches any JID, C{"none"} none.
        """
        self.assertTrue(self.matches(ACLPattern(match="all"), "x@anywhere.example"))
        self.assertFalse(self.matches(ACLPattern(match="none"), "x@example.org"))

    def test_everyConditionMustHold(self) -> None:
        """
        User and server together must both match.
        """
        pattern = ACLPattern(user="admin", server="example.org")
        self.assertTrue(self.matches(pattern, "admin@example.org"))
        self.assertFalse(self.matches(pattern, "admin@example.net"))
        self.assertFalse(self.matches(pattern, "eve@example.org"))

    def test_regexAndGlob(self) -> None:
        """
        Regular expressions are searched, globs match the whole part.
        """
        self.assertTrue(self.matches(ACLPattern(userRegex="^adm", match="all"), "admin@x.example"))
        self.assertTrue(self.matches(ACLPattern(serverGlob="*.example.net"), "gw.example.net"))
        self.assertFalse(self.matches(ACLPattern(serverGlob="*.example.net"), "gw.example.net.evil"))
        self.assertTrue(self.matches(ACLPattern(resourceGlob="bot-*", match="all"), "a@b.example/bot-1"))

    def test_fromMapping(self) -> None:
        """
        Configuration tables become patterns with prepared parts; mistakes
        name the key.
        """
        self.assertEqual(
            patternFromMapping({"user": "Alice", "server_regexp": "x"}),
            ACLPattern(user="alice", serverRegex="x"),
        )
        error = self.assertRaises(SpecError, patternFromMapping, {"usr": "x"})
        self.assertEqual(error.key, "usr")
        error = self.assertRaises(SpecError, patternFromMapping, {"server_regex": "("})
        self.assertEqual(error.key, "server_regex")


class RuleTests(SynchronousTestCase):
    """
    How a rule's clauses decide.
    """

    def test_allIsFree(self) -> None:
        """
        The built-in rule C{all} compiles to nothing: no work per stanza.
        """
        self.assertIsNone(compileRule("all", {}, {}, HOSTS))

    def test_firstMatchingClauseWins(self) -> None:
        """
        Clauses are tried in order; C{all} as a class holds everyone.
        """
        rules = {"r": (AccessClause("blocked", "deny"), AccessClause("all", "allow"))}
        rule = compileRule("r", {"blocked": (ACLPattern(server="spam.example"),)}, rules, HOSTS)
        self.assertFalse(allowed(rule, "x@spam.example"))
        self.assertTrue(allowed(rule, "x@fine.example"))

    def test_noMatchDenies(self) -> None:
        """
        A sender no clause holds is denied, as is a stanza without a valid
        C{from}; an undefined class holds nobody.
        """
        rule = compileRule("r", {}, {"r": (AccessClause("undefined", "allow"),)}, HOSTS)
        self.assertFalse(allowed(rule, "x@example.org"))
        rule = compileRule("r", {}, {"r": (AccessClause("all", "allow"),)}, HOSTS)
        self.assertFalse(allowed(rule, None))
        self.assertFalse(allowed(rule, "a@b@c"))
