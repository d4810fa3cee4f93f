# -*- test-case-name: xcomp.test.test_config -*-
"""
Evaluate a Prosody-style C{prosody.cfg.lua} as Lua, the way Prosody does.

The file runs in an environment shaped like Prosody 0.12's config loader:
assigning a global sets an option in the current section (the global section
until the first C{VirtualHost} or C{Component}); C{VirtualHost "x"} and
C{Component "x"} (optionally C{"plugin"}, optionally followed by a table of
options, after which the global section is current again) open sections;
C{Include} runs further files; C{ENV_NAME} reads an environment variable;
C{FileContents}, C{FileLine} and C{FileLines} read files; C{Lua} is the real
global table, and any other name that is read falls back to Lua's globals.

The result is raw: sections in the order they were declared, each option with
the file and line that set it, values converted to Python.  Validation and the
model live in L{xcomp.config}; this module knows nothing about what options
mean.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from types import MappingProxyType, ModuleType
from typing import Any, Mapping

import attrs
from twisted.words.protocols.jabber.xmpp_stringprep import nameprep

__all__ = [
    "EvaluationError",
    "LuaOpaque",
    "RawOption",
    "RawSection",
    "RawConfig",
    "evaluate",
]


def _luaModule() -> ModuleType:
    """
    Pick the lupa build to run configurations with: Lua 5.4, as Prosody uses,
    when lupa ships it, else Lua 5.5.
    """
    for name in ("lupa.lua54", "lupa.lua55"):
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    raise ImportError("lupa provides neither Lua 5.4 nor Lua 5.5")


_lua = _luaModule()

#: Bounds on what a configuration may do.
MAX_MEMORY = 128 * 1024 * 1024
MAX_INSTRUCTIONS = 100_000_000
MAX_INCLUDE_DEPTH = 16
MAX_FILE_SIZE = 16 * 1024 * 1024
MAX_VALUE_DEPTH = 32
MAX_VALUE_ITEMS = 100_000


@attrs.frozen
class EvaluationError(Exception):
    """
    The configuration could not be evaluated.

    @ivar file: The file the problem is in, or L{None} if unknown.
    @ivar line: The line in C{file}, or L{None}.
    @ivar message: What is wrong, without the position.
    """

    file: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        """
        C{file:line: message}, leaving out what is unknown.
        """
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


@attrs.frozen
class LuaOpaque:
    """
    A Lua value with no Python counterpart (a function, userdata, thread).

    @ivar luaType: Lua's name for the value's type.
    """

    luaType: str


@attrs.frozen
class RawOption:
    """
    One option as the configuration left it.

    @ivar name: The option name (a L{str} unless the file used another key in
        a table of options).
    @ivar value: The value converted to Python: L{str} (or L{bytes} when not
        UTF-8), L{int}, L{float}, L{bool}, L{tuple} for array-like tables, a
        read-only mapping for other tables, or L{LuaOpaque}.
    @ivar file: The file of the statement that set it.
    @ivar line: The line of that statement.
    """

    name: object
    value: object = attrs.field(repr=False)
    file: str
    line: int


@attrs.frozen
class RawSection:
    """
    The global section, or one C{VirtualHost} or C{Component}.

    @ivar kind: C{"global"}, C{"VirtualHost"} or C{"Component"}.
    @ivar name: The nameprep'd domain; L{None} for the global section.
    @ivar module: For C{Component "x" "plugin"}, the plugin name.
    @ivar file: The file of the declaring statement (L{None} for global).
    @ivar line: Its line (L{None} for global).
    @ivar options: The options set in this section, by name.
    """

    kind: str
    name: str | None
    module: str | None
    file: str | None
    line: int | None
    options: Mapping[object, RawOption] = attrs.field(repr=False)


@attrs.frozen
class RawWarning:
    """
    Something the evaluation noticed that is not an error.

    @ivar file: The file.
    @ivar line: The line.
    @ivar message: The text, without the position.
    """

    file: str
    line: int
    message: str


@attrs.frozen
class RawConfig:
    """
    An evaluated configuration.

    @ivar source: The top-level file, as given.
    @ivar files: Every file that was run, in order.
    @ivar sections: The global section first, then every host in order.
    @ivar warnings: Warnings from the evaluation (duplicate options).
    """

    source: str
    files: tuple[str, ...]
    sections: tuple[RawSection, ...]
    warnings: tuple[RawWarning, ...]


# The loader.  It is called with the Python helpers and returns a function
# that runs the top-level file.  Chunks are named "=xcfgN" so that positions
# in Lua's messages are short and can be mapped back to file names (Lua
# shortens long "@path" chunk names).
_PRELUDE = r"""
local helpers, limits = ...
local read_file, resolve, glob, prep = helpers.read_file, helpers.resolve,
    helpers.glob, helpers.nameprep
local G = _G
local getenv, getinfo, sethook = os.getenv, debug.getinfo, debug.sethook
local type, pairs, ipairs, error, load, dofile = type, pairs, ipairs, error,
    load, dofile
local setmetatable, getmetatable, rawget, tostring, tonumber, pcall, xpcall =
    setmetatable, getmetatable, rawget, tostring, tonumber, pcall, xpcall

local Failure = {}

local function quote(s)
    return (("%q"):format(s):gsub("\\\n", "\\n"))
end

return function(top_path, top_data)
    local sources, nsources, files = {}, 0, {}
    local global = { kind = "global", options = {} }
    local sections, by_name, warnings = { global }, {}, {}

    -- The innermost frame that is running a configuration file.
    local function where()
        local level = 1
        while true do
            local info = getinfo(level, "Sl")
            if not info then return nil, nil end
            local file = sources[info.source]
            if file then return file, info.currentline end
            level = level + 1
        end
    end
    local function failure(file, line, message)
        return setmetatable({ file = file, line = line, message = message },
            Failure)
    end
    local function fail(message)
        local file, line = where()
        error(failure(file, line, message), 0)
    end
    local function set_option(section, name, value)
        local file, line = where()
        if value == nil then
            section.options[name] = nil
        else
            section.options[name] = { value = value, file = file, line = line }
        end
    end

    local function define(kind, name, scope)
        if name == nil then fail(kind .. " must have a name") end
        if type(name) ~= "string" then
            fail(("%s name must be a string, not a %s"):format(kind, type(name)))
        end
        local prepped, why = prep(kind, name)
        if not prepped then fail(why) end
        local previous = by_name[prepped]
        if previous then
            local at = previous.file .. ":" .. previous.line
            if previous.kind == kind then
                fail(("%s \"%s\" is already defined at %s"):format(kind, prepped, at))
            end
            fail(("%s \"%s\" clashes with %s \"%s\" defined at %s; for services "
                .. "use a sub-domain like conference.%s"):format(kind, prepped,
                previous.kind, prepped, at, prepped))
        end
        local file, line = where()
        local section = { kind = kind, name = prepped, file = file, line = line,
            options = {} }
        sections[#sections + 1] = section
        by_name[prepped] = section
        scope.current = section
        return section
    end

    local function apply(section, scope, options, what)
        scope.current = global
        if type(options) ~= "table" then
            fail(("%s \"%s\": expected a table of options, got a %s"):format(
                what, section.name, type(options)))
        end
        for name, value in pairs(options) do
            set_option(section, name, value)
        end
    end

    local run

    local function make_env(path, depth, scope)
        local env = {}
        function env.VirtualHost(name)
            local section = define("VirtualHost", name, scope)
            return function(options)
                if type(options) == "string" then
                    scope.current = global
                    fail(("VirtualHost entries do not accept a module name "
                        .. "(module %s provided for host \"%s\")"):format(
                        quote(options), section.name))
                end
                apply(section, scope, options, "VirtualHost")
            end
        end
        env.Host, env.host, env.virtualhost = env.VirtualHost, env.VirtualHost,
            env.VirtualHost

        function env.Component(name)
            local section = define("Component", name, scope)
            local function options(opts)
                apply(section, scope, opts, "Component")
            end
            return function(module)
                if type(module) == "string" then
                    section.module = module
                    return options
                end
                return options(module)
            end
        end
        env.component = env.Component

        function env.Include(pattern)
            if type(pattern) ~= "string" then
                fail("Include needs a file name, not a " .. type(pattern))
            end
            if depth >= limits.include_depth then
                fail(("Include %s: includes are nested more than %d deep (does "
                    .. "a file include itself?)"):format(quote(pattern),
                    limits.include_depth))
            end
            local targets = { resolve(path, pattern) }
            if pattern:find("[*?]") then
                local err
                targets, err = glob(path, pattern)
                if not targets then
                    fail(("Include %s: %s"):format(quote(pattern), err))
                end
            end
            for _, target in ipairs(targets) do
                local data, err = read_file(target, "*a")
                if not data then
                    fail(("Include %s: %s"):format(quote(pattern), err))
                end
                run(target, data, depth + 1)
            end
        end
        env.include = env.Include

        function env.RunScript(file)
            if type(file) ~= "string" then
                fail("RunScript needs a file name, not a " .. type(file))
            end
            return dofile(resolve(path, file))
        end

        local function reader(what, mode)
            return function(file)
                if type(file) ~= "string" then
                    fail(what .. " needs a file name, not a " .. type(file))
                end
                local data, err = read_file(resolve(path, file), mode)
                if data == nil and err then
                    fail(("%s %s: %s"):format(what, quote(file), err))
                end
                return data
            end
        end
        env.FileContents = reader("FileContents", "*a")
        env.FileLine = reader("FileLine", "*l")
        env.FileLines = reader("FileLines", "lines")
        env.Lua = G

        return setmetatable(env, {
            __index = function(_, name)
                if type(name) == "string" and name:sub(1, 4) == "ENV_" then
                    return getenv(name:sub(5))
                end
                return rawget(G, name)
            end,
            __newindex = function(_, name, value)
                local section = scope.current
                local seen = scope.assigned[section]
                if not seen then
                    seen = {}
                    scope.assigned[section] = seen
                end
                if seen[name] then
                    local file, line = where()
                    warnings[#warnings + 1] = { file = file, line = line,
                        message = ("duplicate option '%s'; the last value is used")
                            :format(tostring(name)) }
                end
                seen[name] = true
                set_option(section, name, value)
            end,
        })
    end

    function run(path, data, depth)
        nsources = nsources + 1
        local chunkname = "=xcfg" .. nsources
        sources[chunkname] = path
        files[#files + 1] = path
        local scope = { current = global, assigned = {} }
        local chunk, err = load(data, chunkname, "t", make_env(path, depth, scope))
        if not chunk then
            local line, message = err:match("^xcfg%d+:(%d+): (.*)$")
            error(failure(path, tonumber(line), message or err), 0)
        end
        chunk()
    end

    local function handler(err)
        if getmetatable(err) == Failure then return err end
        local message = err
        if type(err) == "number" then
            message = tostring(err)
        elseif type(err) ~= "string" then
            local ok, text = pcall(tostring, err)
            local mt = getmetatable(err)
            if ok and type(text) == "string" and type(mt) == "table"
                    and mt.__tostring then
                message = text
            else
                message = ("(error object is a %s value)"):format(type(err))
            end
        end
        local n, line, rest = message:match("^xcfg(%d+):(%d+): (.*)$")
        local file = n and sources["=xcfg" .. n]
        if file then return failure(file, tonumber(line), rest) end
        local file, line = where()
        return failure(file, line, message)
    end

    local budget = limits.instructions // limits.hook_every
    sethook(function()
        budget = budget - 1
        if budget < 0 then
            sethook()
            fail(("the configuration did not finish within %d Lua instructions "
                .. "(an endless loop?)"):format(limits.instructions))
        end
    end, "", limits.hook_every)
    local ok, err = xpcall(run, handler, top_path, top_data, 0)
    sethook()
    if not ok then
        if getmetatable(err) ~= Failure then
            -- Memory errors do not reach the handler.
            err = failure(nil, nil, tostring(err))
        end
        return false, err
    end
    return true, { sections = sections, files = files, warnings = warnings }
end
"""


def _text(value: bytes) -> str:
    """
    Decode text coming from Lua for messages, never failing.
    """
    return value.decode("utf-8", "replace")


def _quote(value: str) -> str:
    """
    Quote a name for a message, escaping what would not print.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped) + '"'


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


class _Helpers:
    """
    The Python side of the loader: file access, globbing and nameprep, each
    returning C{nil, message} to Lua instead of raising.
    """

    def __init__(self, lua: Any) -> None:
        """
        @param lua: The runtime, to build Lua tables with.
        """
        self._lua = lua

    def resolve(self, base: bytes, path: bytes) -> bytes:
        """
        Resolve C{path} against the directory of the file C{base}.
        """
        return os.path.join(os.path.dirname(base), path)

    def readFile(self, path: bytes, mode: bytes) -> tuple[object, bytes | None]:
        """
        Read a file for C{Include} and the C{File*} functions.

        @param mode: C{b"*a"} for the whole file, C{b"*l"} for its first line
            (L{None} if the file is empty), C{b"lines"} for a table of lines.
        """
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_SIZE + 1)
        except OSError as e:
            return None, f"cannot read {_text(path)}: {e.strerror}".encode()
        except ValueError as e:  # a NUL in the name
            return None, f"cannot read {_text(path)}: {e}".encode()
        if len(data) > MAX_FILE_SIZE:
            return None, f"{_text(path)} is larger than {MAX_FILE_SIZE} bytes".encode()
        if mode == b"*a":
            return data, None
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        if mode == b"*l":
            return (lines[0] if lines else None), None
        return self._lua.table_from(lines), None

    def glob(self, base: bytes, pattern: bytes) -> tuple[object, bytes | None]:
        """
        Expand a wildcard C{Include}: C{*} and C{?} in the last path component
        only, hidden files skipped, sorted by name.
        """
        directory, sep, filePattern = pattern.rpartition(b"/")
        if sep and not directory:
            directory = b"/"
        if b"*" in directory or b"?" in directory:
            return None, b"wildcards are only allowed in the file name"
        directory = os.path.join(os.path.dirname(base), directory)
        regex = re.compile(
            b"".join(
                b".*" if c == b"*" else b"." if c == b"?" else re.escape(c)
                for c in (filePattern[i : i + 1] for i in range(len(filePattern)))
            )
        )
        try:
            names = sorted(os.listdir(directory or b"."))
        except OSError as e:
            return None, f"cannot list {_text(directory)}: {e.strerror}".encode()
        paths = [
            os.path.join(directory, name)
            for name in names
            if not name.startswith(b".")
            and regex.fullmatch(name)
            and os.path.isfile(os.path.join(directory or b".", name))
        ]
        return self._lua.table_from(paths), None

    def nameprep(self, kind: bytes, name: bytes) -> tuple[bytes | None, bytes | None]:
        """
        Nameprep the name of a C{VirtualHost} or C{Component}.
        """
        try:
            return prepDomain(name.decode("utf-8")).encode("utf-8"), None
        except UnicodeDecodeError:
            reason = "it is not valid UTF-8"
        except ValueError as e:
            reason = str(e)
        return None, (
            f"{_text(kind)} {_quote(_text(name))} is not a valid domain: {reason}"
        ).encode()


class _Converter:
    """
    Convert Lua values to Python within L{MAX_VALUE_DEPTH} and
    L{MAX_VALUE_ITEMS}.
    """

    def __init__(self) -> None:
        """
        Start counting values from zero.
        """
        self._items = 0

    def convert(self, value: object, depth: int = 0) -> object:
        """
        Convert one value.

        @raise ValueError: If the value is too deep or too large, or a table
            has keys that are neither strings, numbers nor booleans.
        """
        luaType = _lua.lua_type(value)
        if luaType is None:
            if isinstance(value, bytes):
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return value
            if isinstance(value, (bool, int, float)):
                return value
            return LuaOpaque(type(value).__name__)
        if luaType != "table":
            return LuaOpaque(luaType)
        if depth >= MAX_VALUE_DEPTH:
            raise ValueError(
                f"tables are nested more than {MAX_VALUE_DEPTH} deep"
                " (does a table contain itself?)"
            )
        entries = []
        for key, item in value.items():  # type: ignore[attr-defined]
            self._items += 1
            if self._items > MAX_VALUE_ITEMS:
                raise ValueError(f"it holds more than {MAX_VALUE_ITEMS} values")
            if _lua.lua_type(key) is not None:
                raise ValueError(f"a table has a {_lua.lua_type(key)} as a key")
            if isinstance(key, bytes):
                key = key.decode("utf-8", "replace")
            entries.append((key, self.convert(item, depth + 1)))
        keys = [k for k, _ in entries]
        if all(type(k) is int for k in keys) and sorted(keys) == list(
            range(1, len(keys) + 1)
        ):
            return tuple(v for _, v in sorted(entries, key=lambda e: e[0]))
        entries.sort(key=_sortKey)
        return MappingProxyType(dict(entries))


def _sortKey(entry: tuple[object, object]) -> tuple[str, object]:
    """
    Order table entries deterministically (Lua's order is not).
    """
    key = entry[0]
    if isinstance(key, float) and math.isnan(key):
        return ("float", 0.0)
    return (type(key).__name__, key)


def _position(table: Any) -> tuple[str | None, int | None]:
    """
    Read C{file} and C{line} from a Lua record.
    """
    file = table[b"file"]
    line = table[b"line"]
    return (os.fsdecode(file) if file is not None else None), (
        int(line) if line is not None and line > 0 else None
    )


def _section(table: Any) -> RawSection:
    """
    Convert one Lua section record.
    """
    file, line = _position(table)
    name = table[b"name"]
    module = table[b"module"]
    options: dict[object, RawOption] = {}
    for key, record in table[b"options"].items():
        optFile, optLine = _position(record)
        assert optFile is not None and optLine is not None
        optName: object = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        try:
            value = _Converter().convert(record[b"value"])
        except ValueError as e:
            raise EvaluationError(optFile, optLine, f"option '{optName!s}': {e}") from None
        options[optName] = RawOption(optName, value, optFile, optLine)
    return RawSection(
        kind=_text(table[b"kind"]),
        name=_text(name) if name is not None else None,
        module=_text(module) if module is not None else None,
        file=file,
        line=line,
        options=MappingProxyType(
            dict(sorted(options.items(), key=lambda kv: (kv[1].file, kv[1].line, str(kv[0]))))
        ),
    )


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

    lua = _lua.LuaRuntime(
        encoding=None,
        unpack_returned_tuples=True,
        register_eval=False,
        register_builtins=False,
        max_memory=MAX_MEMORY,
    )
    lua.globals()[b"python"] = None
    helpers = _Helpers(lua)
    loader = lua.execute(
        _PRELUDE,
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
                b"hook_every": 100_000,
            }
        ),
    )
    try:
        ok, result = loader(os.fsencode(path), data)
    except _lua.LuaMemoryError:
        raise EvaluationError(
            None, None, f"{path}: the configuration used more than {MAX_MEMORY} bytes"
        ) from None
    if not ok:
        file, line = _position(result)
        message = _text(result[b"message"])
        if "not enough memory" in message and file is None:
            message = f"the configuration used more than {MAX_MEMORY} bytes of memory"
        raise EvaluationError(file if file is not None else path, line, message)

    warnings = []
    for record in result[b"warnings"].values():
        file, line = _position(record)
        assert file is not None and line is not None
        warnings.append(RawWarning(file, line, _text(record[b"message"])))
    return RawConfig(
        source=path,
        files=tuple(os.fsdecode(f) for f in result[b"files"].values()),
        sections=tuple(_section(s) for s in result[b"sections"].values()),
        warnings=tuple(warnings),
    )
