# -*- test-case-name: xcomp.test.test_config_cluster -*-
"""
The cluster's globals in a Prosody file: C{cluster_redis} (the Redis URL,
C{redis://} or C{rediss://}), C{cluster_redis_password} (kept out of the
URL, and winning over it), C{cluster_node}, C{cluster_lease} and
C{cluster_stream_length}.  No message about them ever shows the password.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

from xcomp.config.model import (
    DEFAULT_CLUSTER_LEASE,
    DEFAULT_CLUSTER_STREAM_LENGTH,
    ClusterConfig,
    ConfigError,
    Location,
)
from xcomp.config.prosody.options import Options

__all__ = ["readCluster"]

_NODE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_OTHERS = ("cluster_redis_password", "cluster_node", "cluster_lease", "cluster_stream_length")


def _redacted(url: str) -> str:
    """
    C{url} with its password, if any, replaced by C{***}.
    """
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def _parseURL(value: object) -> dict[str, object]:
    if not isinstance(value, str):
        raise ValueError("must be a URL such as \"redis://127.0.0.1:6379/0\"")
    shown = _redacted(value)
    try:
        parts = urlsplit(value)
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"{shown}: the port must be a number from 1 to 65535") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"{shown}: the scheme must be redis:// or rediss://")
    if not parts.hostname:
        raise ValueError(f"{shown}: no host")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown}: query strings and fragments are not supported")
    path = parts.path.strip("/") or "0"
    if not path.isdigit():
        raise ValueError(f"{shown}: the database (the path) must be a number")
    return {
        "host": parts.hostname,
        "port": port,
        "db": int(path),
        "tls": parts.scheme == "rediss",
        "username": parts.username or None,
        "password": parts.password,
    }


def readCluster(options: Options) -> ClusterConfig | None:
    """
    The cluster settings, or L{None} when C{cluster_redis} is not set.

    @raise ConfigError: a value is wrong, or another cluster option is set
        without C{cluster_redis}.
    """
    section = options.global_
    url = options.read(section, "cluster_redis", None, _parseURL, "a Redis URL")
    if url is None:
        for name in _OTHERS:
            option = section.options.get(name)
            if option is not None:
                raise ConfigError(
                    Location(option.file, option.line),
                    f"{name} is set but cluster_redis is not: name the Redis the nodes share",
                )
        return None
    password = options.string(section, "cluster_redis_password")

    def node(value: object) -> str:
        if not isinstance(value, str) or not _NODE.fullmatch(value):
            raise ValueError("must be 1 to 64 letters, digits, '.', '_' or '-'")
        return value

    def lease(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 300:
            raise ValueError("must be a number of seconds from 1 to 300")
        return float(value)

    def length(value: object) -> int:
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int or not 100 <= value <= 10_000_000:
            raise ValueError("must be an integer from 100 to 10000000")
        return value

    option = section.options["cluster_redis"]
    return ClusterConfig(
        host=url["host"],  # type: ignore[arg-type]
        port=url["port"],  # type: ignore[arg-type]
        db=url["db"],  # type: ignore[arg-type]
        tls=url["tls"],  # type: ignore[arg-type]
        username=url["username"],  # type: ignore[arg-type]
        password=password if password is not None else url["password"],  # type: ignore[arg-type]
        node=options.read(section, "cluster_node", socket.gethostname(), node, "a node name"),
        lease=options.read(section, "cluster_lease", DEFAULT_CLUSTER_LEASE, lease, "seconds"),
        streamLength=options.read(
            section, "cluster_stream_length", DEFAULT_CLUSTER_STREAM_LENGTH, length, "an integer"
        ),
        location=Location(option.file, option.line),
    )
