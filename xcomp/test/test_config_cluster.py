# -*- test-case-name: xcomp.test.test_config_cluster -*-
"""
Tests for the cluster's globals in a Prosody file
(L{xcomp.config.prosody.cluster}).
"""

from __future__ import annotations

import socket

from xcomp.config import ClusterConfig
from xcomp.test.test_config import _ConfigTestCase


class ProsodyClusterTests(_ConfigTestCase):
    """
    C{cluster_redis} and its companions.
    """

    def test_off(self) -> None:
        """
        Without C{cluster_redis}, the node runs alone.
        """
        self.assertIsNone(self.load('component_ports = { 5347 }\n').cluster)

    def test_defaults(self) -> None:
        """
        A bare URL gives port 6379, database 0, the host name as the node's
        name, and the default lease and stream bound.
        """
        config = self.load('cluster_redis = "redis://127.0.0.1"\n').cluster
        self.assertEqual(
            config,
            ClusterConfig(host="127.0.0.1", node=socket.gethostname()),
        )

    def test_everything(self) -> None:
        """
        Every part of the URL and every option is taken; the separate
        password wins over the URL's, and neither is in the repr.
        """
        config = self.load(
            'cluster_redis = "rediss://xcomp:urlpass@[::1]:6380/3"\n'
            'cluster_redis_password = "sep-secret"\n'
            'cluster_node = "node-a.1"\ncluster_lease = 2.5\ncluster_stream_length = 500\n'
        ).cluster
        assert config is not None
        self.assertEqual(
            (config.host, config.port, config.db, config.tls, config.username, config.password),
            ("::1", 6380, 3, True, "xcomp", "sep-secret"),
        )
        self.assertEqual((config.node, config.lease, config.streamLength), ("node-a.1", 2.5, 500))
        self.assertEqual(config.url, "rediss://xcomp@[::1]:6380/3")
        self.assertNotIn("secret", repr(config))
        self.assertNotIn("urlpass", repr(config))
        router = self.load('cluster_redis = "redis://u:urlpass@h"\ncluster_redis_password = "sep-secret"\n')
        self.assertNotIn("urlpass", repr(router) + repr(dict(router.options)))
        self.assertNotIn("sep-secret", repr(router) + repr(dict(router.options)))

    def test_badURL(self) -> None:
        """
        A URL that is not a Redis one is an error at its line, which shows
        the URL without its password.
        """
        cases = {
            'cluster_redis = "http://u:hunter2@h"': "http://u:***@h: the scheme must be redis:// or rediss://",
            'cluster_redis = "redis://u:hunter2@h:99999"': "redis://u:***@h:99999: the port must be a number from 1 to 65535",
            'cluster_redis = "redis://h/x"': "redis://h/x: the database (the path) must be a number",
            'cluster_redis = "redis://h/0?timeout=1"': "redis://h/0?timeout=1: query strings and fragments are not supported",
            'cluster_redis = "redis://"': "redis://: no host",
        }
        for line, message in cases.items():
            error = self.fails(line + "\n")
            self.assertEqual(error, self.at(1, "cluster_redis: " + message))
            self.assertNotIn("hunter2", error)

    def test_badValues(self) -> None:
        """
        A node name, lease or stream bound out of range is an error at its
        line.
        """
        url = 'cluster_redis = "redis://127.0.0.1"\n'
        self.assertEqual(
            self.fails(url + 'cluster_node = "a b"\n'),
            self.at(2, "cluster_node: must be 1 to 64 letters, digits, '.', '_' or '-'"),
        )
        self.assertEqual(
            self.fails(url + "cluster_lease = 0.5\n"),
            self.at(2, "cluster_lease: must be a number of seconds from 1 to 300"),
        )
        self.assertEqual(
            self.fails(url + "cluster_stream_length = 10\n"),
            self.at(2, "cluster_stream_length: must be an integer from 100 to 10000000"),
        )

    def test_companionWithoutURL(self) -> None:
        """
        A cluster option without C{cluster_redis} is an error at its line,
        not a cluster silently off.
        """
        self.assertEqual(
            self.fails('cluster_node = "a"\n'),
            self.at(1, "cluster_node is set but cluster_redis is not: name the Redis the nodes share"),
        )
