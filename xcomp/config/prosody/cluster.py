# -*- test-case-name: xcomp.test.test_config_cluster -*-
"""
The cluster's globals in a Prosody file: C{cluster_redis} (the Redis URL,
C{redis://} or C{rediss://}), C{cluster_redis_password} (kept out of the
URL, and winning over it), C{cluster_redis_cafile} (the CA certificates a
C{rediss://} server's certificate is checked against; the system's trust
store without it), C{cluster_node}, C{cluster_lease} and
C{cluster_stream_length}.  No message about them ever shows the password.
"""

from __future__ import annotations

import socket

from xcomp.config.cluster import leaseSeconds, nodeName, parseRedisURL, streamLength
from xcomp.config.model import (
    DEFAULT_CLUSTER_LEASE,
    DEFAULT_CLUSTER_STREAM_LENGTH,
    ClusterConfig,
    ConfigError,
    Location,
)
from xcomp.config.prosody.options import Options

__all__ = ["readCluster"]

_OTHERS = (
    "cluster_redis_password",
    "cluster_redis_cafile",
    "cluster_node",
    "cluster_lease",
    "cluster_stream_length",
)


def readCluster(options: Options) -> ClusterConfig | None:
    """
    The cluster settings, or L{None} when C{cluster_redis} is not set.

    @raise ConfigError: a value is wrong, or another cluster option is set
        without C{cluster_redis}.
    """
    section = options.global_
    url = options.read(section, "cluster_redis", None, parseRedisURL, "a Redis URL")
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
    cafile = options.string(section, "cluster_redis_cafile")
    option = section.options["cluster_redis"]
    if cafile is not None and not url.tls:
        where = section.options["cluster_redis_cafile"]
        raise ConfigError(
            Location(where.file, where.line),
            "cluster_redis_cafile is set but cluster_redis is not a rediss:// URL: it would never be used",
        )
    return ClusterConfig(
        host=url.host,
        port=url.port,
        db=url.db,
        tls=url.tls,
        cafile=None if cafile is None else options.path(cafile),
        username=url.username,
        password=password if password is not None else url.password,
        node=options.read(section, "cluster_node", socket.gethostname(), nodeName, "a node name"),
        lease=options.read(section, "cluster_lease", DEFAULT_CLUSTER_LEASE, leaseSeconds, "seconds"),
        streamLength=options.read(
            section, "cluster_stream_length", DEFAULT_CLUSTER_STREAM_LENGTH, streamLength, "an integer"
        ),
        location=Location(option.file, option.line),
    )
