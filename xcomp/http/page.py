# -*- test-case-name: xcomp.test.test_http_status -*-
"""
The status page as a person reads it, and as C{python -m xcomp status}
prints it: both from one snapshot (L{xcomp.http.status.snapshot}).  The
page is plain HTML that refreshes itself (C{<meta http-equiv="refresh">}),
so it needs no JavaScript; every text from the snapshot is escaped.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any, Mapping

from xcomp.router import elapsed

__all__ = ["REFRESH_SECONDS", "duration", "renderPage", "renderText"]

#: How often the page reloads itself.
REFRESH_SECONDS = 5


def duration(seconds: float | None) -> str:
    """
    A duration as the log lines give it (L{elapsed}), or C{-} for none.
    """
    return "-" if seconds is None else elapsed(seconds)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _reloadLine(status: Mapping[str, Any]) -> str:
    result = status.get("lastReload")
    if result is None:
        return "none since start"
    state = "ok" if result["ok"] else "FAILED"
    return f"{state} at {_when(result['when'])}: {result['message']}"


def _rows(status: Mapping[str, Any]) -> list[dict[str, str]]:
    """
    One row per component connection (or per held domain without one).
    """
    rows = []
    for component in status["components"]:
        connections = component["connections"]
        held = str(component["held"])
        if not connections:
            rows.append(
                {"domain": component["domain"], "peer": "(away: holding)", "since": "-", "tls": "-",
                 "in": "-", "out": "-", "held": held, "balanced": ""}
            )
        for i, c in enumerate(connections):
            rows.append(
                {
                    "domain": component["domain"],
                    "peer": c["peer"],
                    "since": f"{_when(c['since'])} ({duration(c['connected'])})",
                    "tls": "yes" if c["tls"] else "no",
                    "in": str(c["stanzasIn"]),
                    "out": str(c["stanzasOut"]),
                    "held": held,
                    "balanced": f"{i + 1} of {len(connections)}" if component["balanced"] else "",
                }
            )
    return rows


def _table(cls: str, headers: list[str], rows: list[list[str]], attrs: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        extra = attrs[i] if attrs else f' class="{cls}"'
        cells = "".join(f"<td>{escape(cell)}</td>" for cell in row)
        body.append(f"<tr{extra}>{cells}</tr>")
    if not rows:
        body.append(f'<tr class="none"><td colspan="{len(headers)}">none</td></tr>')
    return f'<table id="{cls}s"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def renderPage(status: Mapping[str, Any], jsonPath: str = "status.json") -> bytes:
    """
    The status page (UTF-8 HTML).
    """
    listeners = [
        [f"{l['interface']}:{l['port']}", "TLS" if l["tls"] else "TCP", str(l["connections"]), str(l["bound"]),
         "yes" if l["listening"] else "no (removed by a reload)"]
        for l in status["listeners"]
    ]
    rows = _rows(status)
    components = [
        [r["domain"], r["peer"], r["since"], r["tls"], r["in"], r["out"], r["held"], r["balanced"]] for r in rows
    ]
    # A connection's row is class "component"; a domain held while its
    # component is away, "held".
    domainAttrs = [
        f' class="{"held" if r["since"] == "-" else "component"}" data-domain="{escape(r["domain"])}"' for r in rows
    ]
    internal = [
        [i["domain"], i["plugin"] or "-", ", ".join(i["modules"]) or "-",
         ", ".join(f"{k}: {v}" for k, v in i["statistics"].items()) or "-"]
        for i in status["internal"]
    ]
    reloaded = status.get("lastReload")
    failed = ' class="failed"' if reloaded is not None and not reloaded["ok"] else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        "<title>xcomp status</title>",
        "<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "th,td{border:1px solid #bbb;padding:.2em .6em;text-align:left}th{background:#eee}"
        ".failed{color:#a00}</style></head><body>",
        "<h1>xcomp status</h1>",
        '<p id="summary">',
        f"xcomp {escape(status['version'])}, up {escape(duration(status['uptime']))} "
        f"(since {escape(_when(status['started']))}); configuration {escape(status['config'])}<br>",
        f'Last reload: <span id="reload"{failed}>{escape(_reloadLine(status))}</span><br>',
        f"Stanzas held for components that are away: {status['held']}",
        "</p>",
        "<h2>Component listeners</h2>",
        _table("listener", ["address", "transport", "connections", "bound", "listening"], listeners),
        "<h2>Connected components</h2>",
        _table("component", ["domain", "peer", "connected since", "TLS", "stanzas in", "stanzas out", "held",
                             "balanced"], components, domainAttrs),
    ]
    if status.get("moreConnections"):
        parts.append(f"<p>and {status['moreConnections']} more connections, not listed</p>")
    parts += ["<h2>Internal components</h2>", _table("internal", ["domain", "plugin", "modules", "statistics"], internal)]
    s2s = status.get("s2s")
    if s2s is not None:
        incoming = [[s["peer"], s["remote"] or "?", s["local"] or "?", "yes" if s["secure"] else "no",
                     ", ".join(s["authorised"]) or "-"] for s in s2s["incoming"]]
        outgoing = [[o["local"], o["remote"], o["state"], str(o["queued"])] for o in s2s["outgoing"]]
        parts += [
            "<h2>Server-to-server</h2>",
            f"<p>Listening on {escape(', '.join(s2s['listeners']) or 'no port')}</p>",
            "<h3>Incoming</h3>",
            _table("s2sin", ["peer", "remote", "local", "encrypted", "authorised"], incoming),
            "<h3>Outgoing</h3>",
            _table("s2sout", ["local", "remote", "state", "queued"], outgoing),
        ]
    cluster = status.get("cluster")
    if cluster is not None:
        nodes = [[name, "yes" if n["alive"] else "no", str(n["domains"])] for name, n in cluster["nodes"].items()]
        parts += [
            "<h2>Cluster</h2>",
            f"<p>{escape(_clusterLine(cluster))}</p>",
            _table("node", ["node", "alive", "domains"], nodes),
        ]
    parts += [
        f'<p>This page reloads itself every {REFRESH_SECONDS} seconds. '
        f'The same as JSON: <a href="{escape(jsonPath)}">{escape(jsonPath)}</a></p>',
        "</body></html>",
    ]
    return "\n".join(parts).encode("utf-8")


def _clusterLine(cluster: Mapping[str, Any]) -> str:
    state = "connected to" if cluster["connected"] else "cannot reach"
    active = f"; runs {', '.join(cluster['active'])}" if cluster["active"] else ""
    standby = f"; on standby for {', '.join(cluster['standby'])}" if cluster["standby"] else ""
    return (
        f"node {cluster['node']}, {state} Redis at {cluster['redis']}; {cluster['sent']} stanzas sent to other"
        f" nodes, {cluster['received']} received{active}{standby}"
    )


def renderText(status: Mapping[str, Any]) -> str:
    """
    The status as C{python -m xcomp status} prints it.
    """
    lines = [
        f"xcomp {status['version']} is running, up {duration(status['uptime'])} "
        f"(since {_when(status['started'])})",
        f"configuration: {status['config']}",
        f"last reload: {_reloadLine(status)}",
        "listeners:",
    ]
    for l in status["listeners"]:
        lines.append(
            f"  {l['interface']}:{l['port']} {'TLS' if l['tls'] else 'TCP'}: {l['bound']} bound"
            f" of {l['connections']} connections{'' if l['listening'] else ' (removed by a reload)'}"
        )
    rows = _rows(status)
    lines.append(f"components ({len(rows)} connections):" if rows else "components: none connected")
    for r in rows:
        balanced = f", balanced {r['balanced']}" if r["balanced"] else ""
        lines.append(
            f"  {r['domain']} {r['peer']} since {r['since']}, TLS {r['tls']}, in {r['in']}, out {r['out']},"
            f" held {r['held']}{balanced}"
        )
    if status.get("moreConnections"):
        lines.append(f"  and {status['moreConnections']} more connections")
    if status["internal"]:
        lines.append("internal components:")
        for i in status["internal"]:
            stats = ", ".join(f"{k} {v}" for k, v in i["statistics"].items())
            modules = f" + {', '.join(i['modules'])}" if i["modules"] else ""
            lines.append(f"  {i['domain']} ({i['plugin']}{modules}){': ' + stats if stats else ''}")
    s2s = status.get("s2s")
    if s2s is not None:
        lines.append(f"s2s: {len(s2s['incoming'])} incoming, {len(s2s['outgoing'])} outgoing")
        for s in s2s["incoming"]:
            lines.append(f"  in  {s['remote'] or '?'} -> {s['local'] or '?'} from {s['peer']}"
                         f"{' (encrypted)' if s['secure'] else ''}")
        for o in s2s["outgoing"]:
            lines.append(f"  out {o['local']} -> {o['remote']}: {o['state']}, {o['queued']} queued")
    cluster = status.get("cluster")
    if cluster is not None:
        lines.append(f"cluster: {_clusterLine(cluster)}")
        for name, n in cluster["nodes"].items():
            lines.append(f"  node {name}: {n['domains']} domains{'' if n['alive'] else ' (gone)'}")
    lines.append(f"held for components that are away: {status['held']} stanzas")
    return "\n".join(lines) + "\n"
