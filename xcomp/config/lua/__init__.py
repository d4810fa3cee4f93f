# -*- test-case-name: xcomp.test.test_config_lua,xcomp.test.test_config_components -*-
"""
Evaluate a Prosody-style C{prosody.cfg.lua} as Lua, the way Prosody does.

The file runs in an environment shaped like Prosody 0.12's config loader
(L{xcomp.config.lua.environment}): assigning a global sets an option in the
current section (the global section until the first C{VirtualHost} or
C{Component}); C{VirtualHost "x"} and C{Component "x"} (optionally
C{"plugin"}, optionally followed by a table of options, after which the
global section is current again) open sections; C{Include} runs further
files; C{ENV_NAME} reads an environment variable; C{FileContents},
C{FileLine} and C{FileLines} read files; C{Lua} is the real global table,
and any other name that is read falls back to Lua's globals.

The result is raw (L{xcomp.config.lua.raw}): sections in the order they were
declared, each option with the file and line that set it, values converted
to Python (L{xcomp.config.lua.convert}).  L{xcomp.config.lua.runtime} runs
the file within bounds.  Validation and the model live in
L{xcomp.config.prosody}; this package knows nothing about what options mean.
"""

from __future__ import annotations

from xcomp.config.domains import prepDomain
from xcomp.config.lua.raw import (
    EvaluationError,
    LuaOpaque,
    RawConfig,
    RawOption,
    RawSection,
    RawWarning,
)
from xcomp.config.lua.runtime import (
    MAX_FILE_SIZE,
    MAX_INCLUDE_DEPTH,
    MAX_INSTRUCTIONS,
    MAX_MEMORY,
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    evaluate,
)

__all__ = [
    "EvaluationError",
    "LuaOpaque",
    "MAX_FILE_SIZE",
    "MAX_INCLUDE_DEPTH",
    "MAX_INSTRUCTIONS",
    "MAX_MEMORY",
    "MAX_VALUE_DEPTH",
    "MAX_VALUE_ITEMS",
    "RawOption",
    "RawSection",
    "RawWarning",
    "RawConfig",
    "evaluate",
    "prepDomain",
]
