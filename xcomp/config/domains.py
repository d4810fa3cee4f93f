# -*- test-case-name: xcomp.test.test_config_components,xcomp.test.test_tomlcfg -*-
"""
Domain names as both configuration formats write them: a C{VirtualHost} or
C{Component} name, a TOML C{hosts} entry, a C{password_domains} pattern.
"""

from __future__ import annotations

from twisted.words.protocols.jabber.xmpp_stringprep import nameprep

__all__ = ["prepDomain"]


def prepDomain(name: str) -> str:
    """
    Nameprep a domain and check it can be the domain part of a JID.

    @param name: The domain as written.
    @return: The prepared domain (lowercase, normalised, no trailing dot).
    @raise ValueError: With the reason, if it cannot be a JID domain.
    """
    if name.endswith(".") and name != ".":
        name = name[:-1]
    if not name:
        raise ValueError("the domain is empty")
    try:
        prepped: str = nameprep.prepare(name)
    except UnicodeError as e:
        raise ValueError(str(e)[0].lower() + str(e)[1:]) from None
    except IndexError:
        raise ValueError("it has an empty label") from None
    if any(len(label.encode("utf-8")) > 63 for label in prepped.split(".")):
        raise ValueError("a label is longer than 63 bytes")
    if len(prepped.encode("utf-8")) > 1023:
        raise ValueError("it is longer than 1023 bytes")
    return prepped
