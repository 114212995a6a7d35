"""A Redis primary, a replica and three Sentinels, real processes on free ports (for failover tests)."""

import subprocess
import time
from pathlib import Path

import redis as redis_sync

from core.redisproc import RedisServer, find_redis_server, free_port

MASTER = "mymaster"


class SentinelProcess:
    """`redis-server sentinel.conf --sentinel` watching one primary, with a short down-after time."""

    def __init__(self, data_dir: Path, primary_port: int, down_after_ms: int) -> None:
        self.data_dir = data_dir.absolute()
        self.port = free_port()
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "sentinel.conf"  # Sentinel rewrites its own file: one each
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.data_dir}\nlogfile {self.data_dir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        self.proc = subprocess.Popen(
            [find_redis_server(), str(conf), "--sentinel"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def client(self) -> "redis_sync.Redis[bytes]":
        return redis_sync.Redis(port=self.port, socket_timeout=2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class SentinelCluster:
    """One primary with AOF, one replica of it, three Sentinels (quorum 2) that know them both."""

    def __init__(self, base: Path, *, down_after_ms: int = 1000) -> None:
        self.primary = RedisServer(base / "primary", persist=True)
        self.replica = RedisServer(
            base / "replica", persist=True, extra=("--replicaof", "127.0.0.1", str(self.primary.port))
        )
        self.sentinels = [SentinelProcess(base / f"sentinel{i}", self.primary.port, down_after_ms) for i in range(3)]

    @property
    def addresses(self) -> str:
        """The value of PAGEMILL_REDIS_SENTINELS."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def start(self, timeout_s: float = 30.0) -> None:
        """Start every process, then wait until the replica is in sync and each Sentinel knows the
        replica and the two other Sentinels (only then can they agree on a failover)."""
        self.primary.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the Sentinel cluster did not settle")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with redis_sync.Redis(port=self.replica.port, socket_timeout=2) as replica:
                if replica.info("replication").get("master_link_status") != "up":
                    return False
            for sentinel in self.sentinels:
                with sentinel.client() as s:
                    if len(s.sentinel_slaves(MASTER)) < 1 or len(s.sentinel_sentinels(MASTER)) < 2:
                        return False
        except redis_sync.RedisError:
            return False
        return True

    def master_port(self) -> int | None:
        """The primary's port as the Sentinels name it now (None while none answers)."""
        for sentinel in self.sentinels:
            try:
                with sentinel.client() as s:
                    found = s.sentinel_get_master_addr_by_name(MASTER)
                    if found:
                        return int(found[1])
            except redis_sync.RedisError:
                continue
        return None

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.primary.stop()
