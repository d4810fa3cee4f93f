# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
A real C{redis-server} for the cluster's tests: on a free loopback port,
its data in a temporary directory, nothing saved, ended by its PID.
"""

from __future__ import annotations

import shutil
import tempfile

from twisted.internet import defer
from twisted.internet.interfaces import IReactorProcess
from twisted.trial.unittest import TestCase

from xcomp.test.certs import Issued
from xcomp.test.loopback import ChildProcess, freePort

REDIS_SERVER = shutil.which("redis-server")
#: Why the cluster's tests are skipped, on a machine without Redis.
SKIP_REASON = (
    None if REDIS_SERVER else "redis-server is not installed (apt-get install redis-server)"
)


class RedisPeer:
    """
    @ivar port: the port it listens on, the same after L{restart}.
    @ivar tls: its certificate and key, when it speaks only TLS (C{rediss://}).
    """

    def __init__(
        self,
        reactor: IReactorProcess,
        test: TestCase,
        password: str | None = None,
        tls: tuple[Issued, str] | None = None,
    ) -> None:
        """
        @param password: what C{requirepass} asks for.
        @param tls: a certificate for 127.0.0.1 and its CA's file: TLS only,
            on L{port}, client certificates not asked for.
        """
        self.reactor = reactor
        self.port = freePort()
        self.password = password
        self.tls = tls
        self.directory = tempfile.mkdtemp(prefix="xcomp-redis-")
        test.addCleanup(shutil.rmtree, self.directory, True)
        test.addCleanup(self.stop)
        self.process: ChildProcess | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    async def start(self) -> RedisPeer:
        assert REDIS_SERVER is not None
        port = ["--port", str(self.port)]
        if self.tls:
            issued, ca = self.tls
            port = [
                "--port", "0", "--tls-port", str(self.port), "--tls-cert-file", issued.certificate,
                "--tls-key-file", issued.key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
            ]
        args = [
            REDIS_SERVER, *port, "--bind", "127.0.0.1", "--dir", self.directory,
            "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "notice",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = ChildProcess(self.reactor)  # type: ignore[arg-type]
        self.reactor.spawnProcess(self.process, REDIS_SERVER, args, env={})
        await self.process.waitFor(rb"Ready to accept connections")
        return self

    async def restart(self) -> RedisPeer:
        """
        End it and start it again on the same port: everything it held is lost.
        """
        await self.stop()
        return await self.start()

    def kill(self) -> None:
        if self.process is not None:
            self.process.signal("KILL")

    def stop(self) -> defer.Deferred[int | None]:
        process, self.process = self.process, None
        if process is None or process.done:
            return defer.succeed(None)
        process.signal("TERM")
        return process.ended()
