# -*- test-case-name: xcomp.test.test_config_hold -*-
"""
Tests for the hold and balance options in both formats
(C{component_hold_time}, C{component_hold_stanzas}, C{component_hold_bytes},
C{component_conflict_resolve = "balance"}; MongooseIM's C{hold_time},
C{hold_stanzas}, C{hold_bytes}, C{conflict_behaviour = "balance"}) and the
hold policy a stream's claim carries (L{xcomp.listener.claims}).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import ListenerConfig
from xcomp.config.model import DEFAULT_HOLD_BYTES, DEFAULT_HOLD_STANZAS, DEFAULT_HOLD_TIME
from xcomp.hold import HoldPolicy
from xcomp.listener import claimDomains
from xcomp.test.helpers import makeConfig
from xcomp.test.test_config import _ConfigTestCase
from xcomp.test.test_tomlcfg import LISTENER, _TOMLTestCase


class ProsodyHoldTests(_ConfigTestCase):
    """
    The Prosody-style options.
    """

    def test_defaults(self) -> None:
        """
        Without the options, a component is held for 30 s, up to 10,000
        stanzas and 4 MiB; so are domains bound with a listener's password.
        """
        config = self.load('Component "a.org"\n  component_secret = "s"\n')
        component = self.component(config, "a.org")
        self.assertEqual(
            (component.holdTime, component.holdStanzas, component.holdBytes),
            (DEFAULT_HOLD_TIME, DEFAULT_HOLD_STANZAS, DEFAULT_HOLD_BYTES),
        )
        self.assertEqual((DEFAULT_HOLD_TIME, DEFAULT_HOLD_STANZAS, DEFAULT_HOLD_BYTES), (30.0, 10_000, 4 << 20))
        self.assertEqual(
            (config.holdTime, config.holdStanzas, config.holdBytes),
            (DEFAULT_HOLD_TIME, DEFAULT_HOLD_STANZAS, DEFAULT_HOLD_BYTES),
        )
        self.assertEqual(config.holdTotalBytes, 64 << 20)

    def test_totalBytes(self) -> None:
        """
        C{component_hold_total_bytes} is global only: under a component it
        has no effect, and says so.
        """
        config = self.load(
            'component_hold_total_bytes = 1000000\nComponent "a.org"\n  component_secret = "s"\n'
            "  component_hold_total_bytes = 5\n"
        )
        self.assertEqual(config.holdTotalBytes, 1_000_000)
        self.assertEqual(len(config.warnings), 1)
        self.assertIn("component_hold_total_bytes' under Component", config.warnings[0])
        self.assertEqual(
            self.fails("component_hold_total_bytes = 0\n"),
            self.at(1, "component_hold_total_bytes: 0 is not an integer of at least 1"),
        )

    def test_perComponentAndGlobal(self) -> None:
        """
        The options are read per component with the global section as the
        default, without warnings.
        """
        config = self.load(
            'component_secret = "s"\ncomponent_hold_time = 5\ncomponent_hold_stanzas = 50\n'
            'component_hold_bytes = 65536\n'
            'Component "a.org"\n  component_hold_time = 0\n'
            'Component "b.org"\n  component_hold_time = 2.5\n  component_hold_stanzas = 7\n'
        )
        a, b = self.component(config, "a.org"), self.component(config, "b.org")
        self.assertEqual((a.holdTime, a.holdStanzas, a.holdBytes), (0.0, 50, 65536))
        self.assertEqual((b.holdTime, b.holdStanzas, b.holdBytes), (2.5, 7, 65536))
        self.assertEqual((config.holdTime, config.holdStanzas, config.holdBytes), (5.0, 50, 65536))
        self.assertEqual(config.warnings, ())

    def test_invalid(self) -> None:
        """
        A negative or non-numeric time, and bounds below 1, are errors at
        their line, also in the global section.
        """
        self.assertEqual(
            self.fails("\ncomponent_hold_time = -1\n"),
            self.at(2, "component_hold_time: -1 is not a number of seconds"),
        )
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = "s"\n  component_hold_time = "soon"\n'),
            self.at(3, 'Component "a.org": component_hold_time: "soon" is not a number of seconds'),
        )
        self.assertEqual(
            self.fails("component_hold_stanzas = 0\n"),
            self.at(1, "component_hold_stanzas: 0 is not an integer of at least 1"),
        )
        self.assertEqual(
            self.fails("component_hold_bytes = true\n"),
            self.at(1, "component_hold_bytes: true is not an integer of at least 1"),
        )

    def test_balance(self) -> None:
        """
        C{component_conflict_resolve = "balance"} is read, per component,
        globally and per port.
        """
        config = self.load(
            'component_secret = "s"\ncomponent_conflict_resolve = "balance"\n'
            'component_port_options = { [5347] = { component_conflict_resolve = "balance" } }\n'
            'Component "a.org"\nComponent "b.org"\n  component_conflict_resolve = "kick_old"\n'
        )
        self.assertEqual(self.component(config, "a.org").conflictResolve, "balance")
        self.assertEqual(self.component(config, "b.org").conflictResolve, "kick_old")
        self.assertEqual(config.conflictResolve, "balance")
        self.assertEqual(config.listeners[0].conflictResolve, "balance")


class TOMLHoldTests(_TOMLTestCase):
    """
    The MongooseIM-style options of a C{[[listen.component]]}.
    """

    def test_defaults(self) -> None:
        """
        Without them, the listener defers to the defaults.
        """
        listener = self.listener("")
        self.assertEqual((listener.holdTime, listener.holdStanzas, listener.holdBytes), (None, None, None))

    def test_options(self) -> None:
        """
        C{hold_time} is in milliseconds, like every duration of a listener;
        C{conflict_behaviour = "balance"} is read.
        """
        listener = self.listener(
            'hold_time = 2500\nhold_stanzas = 100\nhold_bytes = 4096\nconflict_behaviour = "balance"\n'
        )
        self.assertEqual((listener.holdTime, listener.holdStanzas, listener.holdBytes), (2.5, 100, 4096))
        self.assertEqual(listener.conflictResolve, "balance")
        self.assertEqual(self.listener("hold_time = 0\n").holdTime, 0.0)

    def test_invalid(self) -> None:
        """
        C{"infinity"} (no bound on memory) and negative values are errors
        at their line.
        """
        self.assertEqual(
            self.fails(LISTENER + 'hold_time = "infinity"\n'),
            self.at(5, 'listen.component[1].hold_time: expected a non-negative integer, not "infinity"'),
        )
        self.assertEqual(
            self.fails(LISTENER + "hold_stanzas = 0\n"),
            self.at(5, "listen.component[1].hold_stanzas: expected a positive integer, not 0"),
        )


class ClaimHoldTests(SynchronousTestCase):
    """
    The hold policy and balance flag of each binding a claim makes.
    """

    def test_configuredComponent(self) -> None:
        """
        A configured component's own settings apply, unless its listener
        sets its own.
        """
        config = makeConfig(
            components={"a.example": {"secret": "s", "holdTime": 3.0, "holdStanzas": 9, "conflictResolve": "balance"}}
        )
        [binding] = claimDomains(config, ListenerConfig(5347, "127.0.0.1"), ["a.example"]).bindings
        self.assertEqual(binding.hold, HoldPolicy(3.0, 9, DEFAULT_HOLD_BYTES))
        self.assertTrue(binding.balance)
        self.assertFalse(binding.kickOld)
        listener = ListenerConfig(5347, "127.0.0.1", holdTime=0.0, holdBytes=10, conflictResolve="kick_old")
        [binding] = claimDomains(config, listener, ["a.example"]).bindings
        self.assertEqual(binding.hold, HoldPolicy(0.0, 9, 10))
        self.assertFalse(binding.hold.enabled)  # type: ignore[union-attr]
        self.assertEqual((binding.balance, binding.kickOld), (False, True))

    def test_passwordDomain(self) -> None:
        """
        A domain bound with the listener's password takes the global
        settings, or its listener's.
        """
        config = makeConfig(holdTime=7.0, holdStanzas=70, holdBytes=700)
        listener = ListenerConfig(5347, "127.0.0.1", password="pw")
        [binding] = claimDomains(config, listener, ["gw.example"]).bindings
        self.assertEqual(binding.hold, HoldPolicy(7.0, 70, 700))
        listener = ListenerConfig(5347, "127.0.0.1", password="pw", holdTime=1.0, conflictResolve="balance")
        [binding] = claimDomains(config, listener, ["gw.example"]).bindings
        self.assertEqual(binding.hold, HoldPolicy(1.0, 70, 700))
        self.assertTrue(binding.balance)
