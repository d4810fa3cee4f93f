# -*- test-case-name: xcomp.test.test_config_cluster -*-
"""
Tests for the cluster's globals in a Prosody file
(L{xcomp.config.prosody.cluster}).
"""

from __future__ import annotations

import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import ClusterConfig
from xcomp.config.cluster import parseRedisURL, redacted
from xcomp.test.test_config import _ConfigTestCase
from xcomp.test.test_tomlcfg import _TOMLTestCase


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

    def test_encodedPassword(self) -> None:
        """
        A percent-encoded user and password are decoded, as every Redis
        client does.
        """
        config = self.load('cluster_redis = "redis://us%40er:p%2Fa%40ss@h"\n').cluster
        assert config is not None
        self.assertEqual((config.username, config.password), ("us@er", "p/a@ss"))

    def test_cafile(self) -> None:
        """
        C{cluster_redis_cafile} is taken relative to the file; it is an
        error beside a plain C{redis://} URL, where it would never be used.
        """
        config = self.load('cluster_redis = "rediss://h"\ncluster_redis_cafile = "certs/ca.pem"\n').cluster
        assert config is not None
        self.assertEqual(config.cafile, os.path.join(os.path.abspath(self.directory), "certs", "ca.pem"))
        self.assertEqual(
            self.fails('cluster_redis = "redis://h"\ncluster_redis_cafile = "ca.pem"\n'),
            self.at(
                2, "cluster_redis_cafile is set but cluster_redis is not a rediss:// URL: it would never be used"
            ),
        )

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


class RedactedTests(SynchronousTestCase):
    """
    L{redacted}, the URL as a message shows it.
    """

    def test_hidden(self) -> None:
        """
        Everything between C{://} and the last C{@} but the user is hidden,
        so that a password with an unencoded C{@} or C{/} is hidden whole.
        """
        cases = {
            "redis://u:pa/ss@h": "redis://u:***@h",
            "redis://u:p@ss@h?x=1": "redis://u:***@h?x=1",
            "redis://:secret@h:1/2": "redis://:***@h:1/2",
            "redis:u:secret@h": "(a value that is not a URL)",
        }
        for url, shown in cases.items():
            self.assertEqual(redacted(url), shown)
            self.assertNotIn("secret", shown)
            self.assertNotIn("ss", shown)

    def test_noPassword(self) -> None:
        """
        A URL with no password is shown as it is.
        """
        for url in ("redis://h", "redis://u@h:6380/1", "rediss://[::1]"):
            self.assertEqual(redacted(url), url)

    def test_reprHidesPassword(self) -> None:
        """
        The parsed URL's repr has the user but not the password.
        """
        url = parseRedisURL("redis://xcomp:hunter2@h")
        self.assertIn("xcomp", repr(url))
        self.assertNotIn("hunter2", repr(url))


class MongooseIMClusterTests(_TOMLTestCase):
    """
    C{[cluster]} in a MongooseIM file.
    """

    def test_off(self) -> None:
        """
        Without C{[cluster]}, the node runs alone.
        """
        self.assertIsNone(self.load('[general]\n  hosts = ["example.org"]\n').cluster)

    def test_everything(self) -> None:
        """
        Each key is taken; the lease is in milliseconds, as MongooseIM's
        timeouts are; the separate password wins over the URL's.
        """
        config = self.load(
            "[cluster]\n"
            '  redis = "rediss://xcomp:urlpass@redis.internal:6380/2"\n'
            '  password = "sep-secret"\n'
            '  cafile = "ca.pem"\n'
            '  node = "b"\n'
            "  lease = 2500\n"
            "  stream_length = 1000\n"
        ).cluster
        self.assertEqual(
            config,
            ClusterConfig(
                host="redis.internal",
                port=6380,
                db=2,
                tls=True,
                cafile=os.path.join(self.directory, "ca.pem"),
                username="xcomp",
                password="sep-secret",
                node="b",
                lease=2.5,
                streamLength=1000,
            ),
        )
        self.assertEqual(self.load('[cluster]\n  redis = "redis://h"\n').cluster, ClusterConfig(host="h", node=socket.gethostname()))

    def test_errors(self) -> None:
        """
        A missing URL, an unknown key, a bad value: each at its line, and
        never with the password.
        """
        cases = {
            '[cluster]\n  node = "a"\n': self.at(1, "cluster.redis: missing: name the Redis the nodes share"),
            '[cluster]\n  redis = "redis://h"\n  nodes = "a"\n': self.at(
                3, 'cluster.nodes: unknown option (did you mean "node"?)'
            ),
            '[cluster]\n  redis = "redis://u:hunter2@h:0"\n': self.at(
                2, "cluster.redis: redis://u:***@h:0: the port must be a number from 1 to 65535"
            ),
            '[cluster]\n  redis = "redis://h"\n  lease = 500\n': self.at(
                3, "cluster.lease: must be a number of milliseconds from 1000 to 300000"
            ),
            '[cluster]\n  redis = "redis://h"\n  cafile = "ca.pem"\n': self.at(
                3, "cluster.cafile: set but redis is not a rediss:// URL: it would never be used"
            ),
            '[cluster]\n  redis = "redis://h"\n  password = 12345678\n': self.at(
                3, "cluster.password: expected a non-empty string"
            ),
            '[cluster]\n  redis = "redis://h"\n  stream_length = 5\n': self.at(
                3, "cluster.stream_length: must be an integer from 100 to 10000000"
            ),
        }
        for text, message in cases.items():
            error = self.fails(text)
            self.assertEqual(error, message)
            self.assertNotIn("hunter2", error)
            self.assertNotIn("12345678", error)
