# -*- test-case-name: xcomp.test.test_config_cluster -*-
"""
What both file formats share about the cluster: the Redis URL
(C{redis://[user[:password]@]host[:port][/db]}, or C{rediss://} for TLS)
and the ranges of a node's name, lease and stream bound.  Each check raises
L{ValueError} with a message that never shows the password; the format's
loader puts its own C{file:line: option:} in front.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import attrs

__all__ = ["RedisURL", "parseRedisURL", "redacted", "nodeName", "leaseSeconds", "streamLength"]

_NODE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENCODE = "a password with '/', '@', ':' or '?' must be percent-encoded in the URL, or given on its own"


@attrs.frozen
class RedisURL:
    """
    The parts of a Redis URL that a node connects with.
    """

    host: str
    port: int
    db: int
    tls: bool
    username: str | None
    password: str | None = attrs.field(repr=False)


def redacted(url: str) -> str:
    """
    C{url} as a message may show it: whatever stands between C{://} and the
    last C{@} after it, but for the user name, is C{***}.  The last C{@}, not
    the first: a password with an unencoded C{@} or C{/} in it must still be
    hidden whole, and hiding a little too much is the safe way to be wrong.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "(a value that is not a URL)" if "@" in url else url
    at = rest.rfind("@")
    if at < 0:
        return url
    user, colon, _ = rest[:at].partition(":")
    if not colon:
        return url
    return f"{scheme}://{user}:***@{rest[at + 1:]}"


def parseRedisURL(value: object) -> RedisURL:
    """
    Check and split a Redis URL.

    @raise ValueError: it is not one; the message shows it redacted.
    """
    if not isinstance(value, str):
        raise ValueError('must be a URL such as "redis://127.0.0.1:6379/0"')
    shown = redacted(value)
    # Characters that end the user part early: urlsplit then reads the
    # password as a host, port or path, and its complaint must say why.
    userinfo = value.partition("://")[2].rpartition("@")[0]
    hint = f" ({_ENCODE})" if any(c in userinfo for c in "/?#@") else ""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"{shown}: the port must be a number from 1 to 65535{hint}") from None
    if port == 0:
        raise ValueError(f"{shown}: the port must be a number from 1 to 65535")
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"{shown}: the scheme must be redis:// or rediss://")
    if not parts.hostname:
        raise ValueError(f"{shown}: no host")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown}: query strings and fragments are not supported{hint}")
    path = parts.path.strip("/") or "0"
    if not path.isdigit():
        raise ValueError(f"{shown}: the database (the path) must be a number{hint}")
    return RedisURL(
        host=parts.hostname,
        port=6379 if port is None else port,
        db=int(path),
        tls=parts.scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=None if parts.password is None else unquote(parts.password),
    )


def nodeName(value: object) -> str:
    """
    A node's name, unique in the cluster: it names its lease and its stream.
    """
    if not isinstance(value, str) or not _NODE.fullmatch(value):
        raise ValueError("must be 1 to 64 letters, digits, '.', '_' or '-'")
    return value


def leaseSeconds(value: object) -> float:
    """
    How long a node's domains outlive its last renewal.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 300:
        raise ValueError("must be a number of seconds from 1 to 300")
    return float(value)


def streamLength(value: object) -> int:
    """
    The bound of a node's incoming stream.
    """
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not 100 <= value <= 10_000_000:
        raise ValueError("must be an integer from 100 to 10000000")
    return value
