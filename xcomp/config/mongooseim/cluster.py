# -*- test-case-name: xcomp.test.test_config_cluster -*-
"""
C{[cluster]} of a MongooseIM file, xcomp's own section (MongooseIM clusters
through Mnesia or CETS, which xcomp does not speak):

    [cluster]
      redis = "rediss://xcomp@redis.internal:6380/0"
      password = "..."        # or in the URL; this one wins
      cafile = "redis-ca.pem" # rediss:// only
      node = "a"              # the host name by default
      lease = 5000            # milliseconds, as MongooseIM's timeouts are
      stream_length = 10000

No message about it ever shows the password.
"""

from __future__ import annotations

import socket
from typing import Callable, Mapping, TypeVar

from xcomp.config.cluster import leaseSeconds, nodeName, parseRedisURL, streamLength
from xcomp.config.model import DEFAULT_CLUSTER_LEASE, DEFAULT_CLUSTER_STREAM_LENGTH, ClusterConfig
from xcomp.config.mongooseim.checks import Checker
from xcomp.config.mongooseim.locate import Path

__all__ = ["readCluster"]

_KEYS = ("redis", "password", "cafile", "node", "lease", "stream_length")
_T = TypeVar("_T")


def readCluster(check: Checker, document: Mapping[str, object]) -> ClusterConfig | None:
    """
    The cluster settings, or L{None} without a C{[cluster]} section.
    """
    if "cluster" not in document:
        return None
    path: Path = ("cluster",)
    section = check.table(document["cluster"], path)
    for key in section:
        if key not in _KEYS:
            check.unknown(path + (key,), _KEYS)
    if "redis" not in section:
        check.fail(path + ("redis",), "missing: name the Redis the nodes share")

    def read(key: str, default: _T, convert: Callable[[object], _T]) -> _T:
        if key not in section:
            return default
        try:
            return convert(section[key])
        except ValueError as e:
            check.fail(path + (key,), str(e))

    url = read("redis", None, parseRedisURL)
    assert url is not None
    password = url.password
    if "password" in section:
        password = section["password"]  # type: ignore[assignment]
        if not isinstance(password, str) or not password:
            # Not check.string: its message would show the value.
            check.fail(path + ("password",), "expected a non-empty string")
    cafile = None
    if "cafile" in section:
        if not url.tls:
            check.fail(path + ("cafile",), "set but redis is not a rediss:// URL: it would never be used")
        cafile = check.file(section["cafile"], path + ("cafile",))

    def lease(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a number of milliseconds from 1000 to 300000")
        try:
            return leaseSeconds(value / 1000)
        except ValueError:
            raise ValueError("must be a number of milliseconds from 1000 to 300000") from None

    return ClusterConfig(
        host=url.host,
        port=url.port,
        db=url.db,
        tls=url.tls,
        cafile=cafile,
        username=url.username,
        password=password,
        node=read("node", socket.gethostname(), nodeName),
        lease=read("lease", DEFAULT_CLUSTER_LEASE, lease),
        streamLength=read("stream_length", DEFAULT_CLUSTER_STREAM_LENGTH, streamLength),
        location=check.at(path + ("redis",)),
    )
