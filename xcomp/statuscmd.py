# -*- test-case-name: xcomp.test.test_statuscmd -*-
"""
C{python -m xcomp status}: what C{prosodyctl status} is to Prosody.  It
finds the status page's address in the configuration (or takes C{--url}),
reads C{status.json} from the running xcomp, and prints it.  A plain
blocking HTTP client is enough for a command that does one request.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from xcomp.control import CommandError

__all__ = ["NOT_RUNNING", "fetchStatus", "statusURL"]

#: The exit status when nothing answers: LSB's "program is not running".
NOT_RUNNING = 3
#: Seconds to wait for the answer.
TIMEOUT = 10.0


class NotRunning(CommandError):
    """
    Nothing answers at the status page's address.
    """


def statusURL(config: str) -> tuple[str, str | None]:
    """
    The URL of C{status.json} of the configuration file C{config}, and the
    token its status page needs.

    @raise CommandError: The file has a mistake, or enables no status page.
    """
    from xcomp.config import ConfigError, loadConfig
    from xcomp.plugin import installedModules, installedPlugins

    try:
        loaded = loadConfig(config, plugins=installedPlugins(), modules=installedModules())
    except ConfigError as e:
        raise CommandError(str(e)) from None
    for listener in loaded.http:
        for handler in listener.handlers:
            if handler.kind == "status":
                host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(listener.interface, listener.interface)
                if ":" in host:
                    host = f"[{host}]"
                path = handler.path.rstrip("/") + "/status.json"
                return f"http://{host}:{listener.port}{path}", handler.token
    raise CommandError(
        f'{config}: enables no status page (add "xcomp_status" to the global modules_enabled, '
        "or an xcomp_status_handler to a [[listen.http]]); or give --url"
    )


def fetchStatus(url: str, token: str | None) -> Any:
    """
    The status JSON at C{url}.

    @raise NotRunning: Nothing answers there.
    @raise CommandError: Something answers, but not with a status.
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            body = answer.read(64 * 1024 * 1024)
    except urllib.error.HTTPError as e:
        hint = " (give the token with --token, or -c CONFIG that has it)" if e.code == 401 else ""
        raise CommandError(f"{url}: HTTP {e.code} {e.reason}{hint}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise NotRunning(f"{url}: {getattr(reason, 'strerror', None) or reason}; is xcomp running?") from None
    try:
        return json.loads(body)
    except ValueError:
        raise CommandError(f"{url}: the answer is not JSON; is this xcomp's status page?") from None
