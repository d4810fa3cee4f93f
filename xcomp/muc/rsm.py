# -*- test-case-name: xcomp.test.test_muc_directory -*-
"""
XEP-0059 result set management over a sorted list of keys: what the
service's room list (disco#items) pages with.  Pure.
"""

from __future__ import annotations

import bisect
from typing import Sequence

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

NS_RSM = "http://jabber.org/protocol/rsm"


@attrs.frozen
class PageRequest:
    """
    What a C{<set/>} asks for.

    @ivar max: the most items (C{None}: not said).
    @ivar after: the page after this key.
    @ivar before: the page before this key; C{""} for the last page.
    @ivar index: the page from this position.
    """

    max: int | None = None
    after: str | None = None
    before: str | None = None
    index: int | None = None

    @classmethod
    def fromQuery(cls, query: domish.Element) -> PageRequest | None:
        """
        The request in C{query}'s C{<set/>}, or C{None} when it has none.

        @raise StanzaError: C{bad-request}, C{max} or C{index} is not a
            non-negative integer.
        """
        found = next(query.elements(NS_RSM, "set"), None)
        if found is None:
            return None

        def text(name: str) -> str | None:
            element = next(found.elements(NS_RSM, name), None)
            return None if element is None else str(element)

        def number(name: str) -> int | None:
            value = text(name)
            if value is None:
                return None
            if not value.strip().isdigit():
                raise StanzaError("bad-request", "modify", f"RSM {name} must be a non-negative integer")
            return int(value)

        return cls(max=number("max"), after=text("after"), before=text("before"), index=number("index"))


@attrs.frozen
class Page:
    """
    One page of keys and where it lies in the whole.
    """

    keys: Sequence[str]
    firstIndex: int
    count: int

    def setElement(self) -> domish.Element:
        """
        The C{<set/>} of the answer: C{first} (with its index), C{last},
        C{count}.
        """
        result = domish.Element((NS_RSM, "set"))
        if self.keys:
            result.addElement("first", content=self.keys[0])["index"] = str(self.firstIndex)
            result.addElement("last", content=self.keys[-1])
        result.addElement("count", content=str(self.count))
        return result


def paginate(keys: Sequence[str], request: PageRequest | None, limit: int) -> Page:
    """
    The page of the sorted C{keys} that C{request} asks for, at most
    C{limit} keys (the whole list, within C{limit}, without a request).

    @raise StanzaError: C{item-not-found}, the C{after} or C{before} key
        is not in the list (XEP-0059 section 2.6).
    """
    size = limit if request is None or request.max is None else min(request.max, limit)
    count = len(keys)
    if request is None:
        return Page(keys[:size], 0, count)
    if request.before is not None:
        end = count if request.before == "" else _position(keys, request.before)
        start = max(0, end - size)
        return Page(keys[start:end], start, count)
    if request.after is not None:
        start = _position(keys, request.after) + 1
    else:
        start = min(request.index or 0, count)
    return Page(keys[start:start + size], start, count)


def _position(keys: Sequence[str], key: str) -> int:
    at = bisect.bisect_left(keys, key)
    if at == len(keys) or keys[at] != key:
        raise StanzaError("item-not-found", "cancel", "No such item in the result set")
    return at
