# -*- test-case-name: xcomp.test.test_s2s_dialback -*-
"""
Tests for L{xcomp.s2s.dialback}.
"""

from __future__ import annotations

import hashlib
import hmac

from twisted.trial.unittest import SynchronousTestCase

from xcomp.s2s.dialback import DialbackSecret, dialbackKey


class DialbackKeyTests(SynchronousTestCase):
    """
    L{dialbackKey} computes XEP-0185's key.
    """

    def test_definition(self) -> None:
        """
        The key is HMAC-SHA256, keyed with the hex SHA-256 of the secret, of
        the three values joined by spaces.
        """
        key = hashlib.sha256(b"secret").hexdigest().encode()
        expected = hmac.new(key, b"a.example b.example id1", hashlib.sha256).hexdigest()
        self.assertEqual(dialbackKey(b"secret", "a.example", "b.example", "id1"), expected)


class DialbackSecretTests(SynchronousTestCase):
    """
    L{DialbackSecret} issues and checks keys without ever showing itself.
    """

    def test_configured(self) -> None:
        """
        A configured secret gives the same keys in every process.
        """
        self.assertEqual(
            DialbackSecret("x").key("r", "o", "id"), dialbackKey(b"x", "r", "o", "id")
        )

    def test_randomPerProcess(self) -> None:
        """
        Without a configured secret, each L{DialbackSecret} has its own: a
        key from one does not check with another.
        """
        one, two = DialbackSecret(), DialbackSecret()
        key = one.key("r", "o", "id")
        self.assertTrue(one.check(key, "r", "o", "id"))
        self.assertFalse(two.check(key, "r", "o", "id"))

    def test_checkRefusesOtherTriple(self) -> None:
        """
        A key is valid only for the triple it was issued for.
        """
        secret = DialbackSecret("x")
        key = secret.key("r", "o", "id")
        self.assertFalse(secret.check(key, "r", "o", "id2"))
        self.assertFalse(secret.check(key, "o", "r", "id"))
        self.assertFalse(secret.check("not hex \N{SNOWMAN}", "r", "o", "id"))

    def test_repr(self) -> None:
        """
        The repr does not contain the secret.
        """
        self.assertNotIn("hunter2", repr(DialbackSecret("hunter2")))
