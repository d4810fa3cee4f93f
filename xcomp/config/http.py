# -*- test-case-name: xcomp.test.test_config_http -*-
"""
What both loaders check of the HTTP port (metrics and the status page):
an address other than loopback is open to the network, so it needs a
credential, and a credential must not be guessable.  Pure functions.
"""

from __future__ import annotations

import ipaddress

from xcomp.config.model import MIN_HTTP_TOKEN_LENGTH

__all__ = ["isLoopback", "tokenProblem"]


def isLoopback(interface: str) -> bool:
    """
    Whether binding C{interface} keeps the port to this machine
    (127.0.0.0/8 or ::1; C{0.0.0.0} and C{::} are every address).
    """
    try:
        return ipaddress.ip_address(interface).is_loopback
    except ValueError:
        return False


def tokenProblem(token: str) -> str | None:
    """
    What is wrong with a credential for the HTTP port, never showing it;
    L{None} when it will do.
    """
    if len(token) < MIN_HTTP_TOKEN_LENGTH:
        return (
            f"too short ({len(token)} characters): at least {MIN_HTTP_TOKEN_LENGTH}, for example "
            "the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    if not token.isprintable() or token != token.strip():
        return "must be printable, without spaces at either end"
    return None
