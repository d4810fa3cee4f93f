# -*- test-case-name: xcomp.test.test_config_lua,xcomp.test.test_config_include -*-
"""
The environment a configuration file runs in, shaped like Prosody 0.12's
config loader: the Lua side (L{PRELUDE}) and the Python helpers it calls
(L{Helpers}) for file access, globbing and nameprep.

The prelude is called with the helpers and the limits and returns a
function that runs the top-level file; that function returns C{true} and
the sections, files and warnings, or C{false} and a failure record with
C{file}, C{line} and C{message}.
"""

from __future__ import annotations

import os
import re
from typing import Any

from xcomp.config.domains import prepDomain
from xcomp.config.lua.convert import text

__all__ = ["PRELUDE", "Helpers"]

#: The Lua side of the loader.  Chunks are named "=xcfgN" so that positions
#: in Lua's messages are short and can be mapped back to file names (Lua
#: shortens long "@path" chunk names).
PRELUDE = r"""
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
            if previous.kind == kind and kind == "VirtualHost" then
                -- Prosody re-enters the host's section (Debian's own file
                -- has VirtualHost "localhost" there and in conf.d/).
                scope.current = previous
                return previous
            end
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


def _quote(value: str) -> str:
    """
    Quote a name for a message, escaping what would not print.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped) + '"'


class Helpers:
    """
    The Python side of the loader: file access, globbing and nameprep, each
    returning C{nil, message} to Lua instead of raising.
    """

    def __init__(self, lua: Any, maxFileSize: int) -> None:
        """
        @param lua: The runtime, to build Lua tables with.
        @param maxFileSize: The largest file C{Include} and C{File*} read.
        """
        self._lua = lua
        self._maxFileSize = maxFileSize

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
                data = f.read(self._maxFileSize + 1)
        except OSError as e:
            return None, f"cannot read {text(path)}: {e.strerror}".encode()
        except ValueError as e:  # a NUL in the name
            return None, f"cannot read {text(path)}: {e}".encode()
        if len(data) > self._maxFileSize:
            return None, f"{text(path)} is larger than {self._maxFileSize} bytes".encode()
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
            return None, f"cannot list {text(directory)}: {e.strerror}".encode()
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
            f"{text(kind)} {_quote(text(name))} is not a valid domain: {reason}"
        ).encode()

