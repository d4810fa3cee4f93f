# -*- test-case-name: xcomp.test.test_config_lua -*-
"""
Run a configuration file in a bounded Lua runtime: lupa's Lua 5.4 (as
Prosody uses) or 5.5, with no Python bridge, within limits on memory, Lua
instructions, include depth, file size and the size of the values it
leaves.

lupa is imported by the first evaluation, not by importing this module, so
that loading a TOML configuration never loads Lua.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType

from xcomp.config.lua.convert import ValueConverter, position, readSection, readWarning, text
from xcomp.config.lua.environment import PRELUDE, Helpers
from xcomp.config.lua.raw import EvaluationError, RawConfig

__all__ = [
    "MAX_FILE_SIZE",
    "MAX_INCLUDE_DEPTH",
    "MAX_INSTRUCTIONS",
    "MAX_MEMORY",
    "MAX_VALUE_DEPTH",
    "MAX_VALUE_ITEMS",
    "evaluate",
]

#: Bounds on what a configuration may do.
MAX_MEMORY = 128 * 1024 * 1024
MAX_INSTRUCTIONS = 100_000_000
MAX_INCLUDE_DEPTH = 16
MAX_FILE_SIZE = 16 * 1024 * 1024
MAX_VALUE_DEPTH = 32
MAX_VALUE_ITEMS = 100_000

# How often (in Lua instructions) the instruction budget is checked.
_HOOK_EVERY = 100_000


@functools.cache
def luaModule() -> ModuleType:
    """
    Pick the lupa build to run configurations with: Lua 5.4, as Prosody uses,
    when lupa ships it, else Lua 5.5.

    @raise ImportError: If lupa provides neither.
    """
    for name in ("lupa.lua54", "lupa.lua55"):
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    raise ImportError("lupa provides neither Lua 5.4 nor Lua 5.5")


def evaluate(path: str) -> RawConfig:
    """
    Run a configuration file and collect what it sets.

    @param path: The file, as it should appear in messages.
    @return: The sections and warnings.
    @raise EvaluationError: If the file cannot be read or fails to run.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_SIZE + 1)
    except OSError as e:
        raise EvaluationError(
            None, None, f"{path}: cannot read the configuration file: {e.strerror}"
        ) from None
    if len(data) > MAX_FILE_SIZE:
        raise EvaluationError(None, None, f"{path}: larger than {MAX_FILE_SIZE} bytes")

    lupa = luaModule()
    lua = lupa.LuaRuntime(
        encoding=None,
        unpack_returned_tuples=True,
        register_eval=False,
        register_builtins=False,
        max_memory=MAX_MEMORY,
    )
    lua.globals()[b"python"] = None
    helpers = Helpers(lua, MAX_FILE_SIZE)
    loader = lua.execute(
        PRELUDE,
        lua.table_from(
            {
                b"read_file": helpers.readFile,
                b"resolve": helpers.resolve,
                b"glob": helpers.glob,
                b"nameprep": helpers.nameprep,
            }
        ),
        lua.table_from(
            {
                b"include_depth": MAX_INCLUDE_DEPTH,
                b"instructions": MAX_INSTRUCTIONS,
                b"hook_every": _HOOK_EVERY,
            }
        ),
    )
    try:
        ok, result = loader(os.fsencode(path), data)
    except lupa.LuaMemoryError:
        raise EvaluationError(
            None, None, f"{path}: the configuration used more than {MAX_MEMORY} bytes"
        ) from None
    if not ok:
        file, line = position(result)
        message = text(result[b"message"])
        if "not enough memory" in message and file is None:
            message = f"the configuration used more than {MAX_MEMORY} bytes of memory"
        raise EvaluationError(file if file is not None else path, line, message)

    converter = ValueConverter(lupa.lua_type, MAX_VALUE_DEPTH, MAX_VALUE_ITEMS)
    return RawConfig(
        source=path,
        files=tuple(os.fsdecode(f) for f in result[b"files"].values()),
        sections=tuple(readSection(s, converter) for s in result[b"sections"].values()),
        warnings=tuple(readWarning(w) for w in result[b"warnings"].values()),
    )
