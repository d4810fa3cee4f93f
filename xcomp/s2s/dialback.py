# -*- test-case-name: xcomp.test.test_s2s_dialback -*-
"""
Dialback keys (XEP-0185): what an originating server sends in
C{<db:result/>} and what its authoritative server recomputes to answer a
C{<db:verify/>}.  The key depends only on the secret and the values in the
request, so the authoritative side keeps no state per outgoing stream.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["DialbackSecret", "dialbackKey"]


def dialbackKey(secret: bytes, receiving: str, originating: str, streamID: str) -> str:
    """
    The XEP-0185 key: HMAC-SHA256, keyed with the SHA-256 of the secret, of
    C{"receiving originating streamID"}, in lowercase hex.
    """
    key = hashlib.sha256(secret).hexdigest().encode("ascii")
    text = " ".join((receiving, originating, streamID)).encode("utf-8")
    return hmac.new(key, text, hashlib.sha256).hexdigest()


class DialbackSecret:
    """
    The process's dialback secret: the configured C{dialback_secret}, or a
    random one, which makes every key this process issued worthless once it
    stops.  Its repr never shows it.
    """

    def __init__(self, configured: str | None = None) -> None:
        self._secret = (
            configured.encode("utf-8") if configured is not None else secrets.token_bytes(32)
        )

    def __repr__(self) -> str:
        return "<DialbackSecret>"

    def key(self, receiving: str, originating: str, streamID: str) -> str:
        """
        The key for one (receiving, originating, stream) triple.
        """
        return dialbackKey(self._secret, receiving, originating, streamID)

    def check(self, key: str, receiving: str, originating: str, streamID: str) -> bool:
        """
        Whether C{key} is the one this secret gives for the triple, compared
        in constant time.
        """
        expected = self.key(receiving, originating, streamID)
        return hmac.compare_digest(expected.encode("ascii"), key.encode("utf-8", "replace"))
