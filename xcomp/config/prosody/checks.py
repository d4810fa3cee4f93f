# -*- test-case-name: xcomp.test.test_config -*-
"""
Warnings about option names, as C{prosodyctl check} gives them: unknown
options (with the closest known name), options that only work in the global
section, and values Python cannot use.
"""

from __future__ import annotations

import difflib
from typing import AbstractSet

from xcomp.config.lua import LuaOpaque, RawSection
from xcomp.config.model import Location
from xcomp.config.values import GLOBAL_ONLY, MISPLACED, PER_HOST, hostLabel, isKnown, quote

__all__ = ["checkNames"]


def checkNames(
    section: RawSection, global_: RawSection, declared: AbstractSet[str] = frozenset()
) -> list[str]:
    """
    Check the option names of one section.

    @param section: The section.
    @param global_: The global section (which may be C{section}).
    @param declared: The names the plugins and modules that see the
        section's options declare: known, and candidates for the hint.
    @return: The warnings, as C{file:line: text}.
    """
    warnings = []
    where = "" if section is global_ else f" under {hostLabel(section)}"
    for name, option in section.options.items():
        at = Location(option.file, option.line)
        if not isinstance(name, str):
            warnings.append(f"{at}: ignoring option {name!r}{where}: option names are strings")
        elif section is not global_ and (name in GLOBAL_ONLY or MISPLACED.search(name)):
            warnings.append(
                f"{at}: option '{name}'{where} has no effect: it belongs in the "
                "global section, above the first VirtualHost or Component"
            )
        elif name in declared:
            continue
        elif not isKnown(name):
            known = sorted(GLOBAL_ONLY | PER_HOST | declared)
            # A typo, not a name that merely shares a word (pong_interval is
            # not component_interface): difflib's default 0.6 is too loose.
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            warnings.append(f"{at}: unknown option '{name}'{where}{hint}")
        elif isinstance(option.value, LuaOpaque):
            warnings.append(
                f"{at}: option '{name}'{where} is {quote(option.value)}, "
                "which xcomp cannot use; ignoring it"
            )
    return warnings
