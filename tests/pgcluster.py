"""Scratch PostgreSQL clusters for the operations tests: a primary with WAL archiving, and hot
standbys made from it with ``pg_basebackup`` — real servers on their own ports, started as the
``postgres`` system user, removed afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def available() -> str | None:
    """Why scratch clusters cannot run here, or None when they can."""
    if BIN is None or not (BIN / "initdb").exists():
        return "PostgreSQL server binaries not installed"
    if os.geteuid() != 0 and _owner() != os.geteuid():
        return "needs root (to run the servers as the postgres user) or to be the postgres user"
    if shutil.which("runuser") is None and os.geteuid() == 0:
        return "runuser not found"
    return None


def _owner() -> int:
    import pwd

    return pwd.getpwnam("postgres").pw_uid


def _as_postgres(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, root: Path, name: str, port: int) -> None:
        self.dir = root / name
        self.port = port
        self.root = root

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/tousu"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def start(self) -> None:
        _as_postgres(
            [
                str(BIN / "pg_ctl"),
                "-D",
                str(self.dir),
                "-l",
                str(self.root / f"{self.dir.name}.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
            + [str(BIN / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"],
            capture_output=True,
            timeout=60,
        )

    def wait_ready(self, seconds: float = 30) -> None:
        end = time.monotonic() + seconds
        while True:
            try:
                self.connect().close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)


def _conf(cluster: Cluster, extra: str) -> None:
    with open(cluster.dir / "postgresql.auto.conf", "a") as conf:
        conf.write(extra)


class Scratch:
    """``with Scratch() as s: primary = s.primary(); standby = s.standby(primary)``."""

    def __enter__(self) -> Scratch:
        self.root = Path(tempfile.mkdtemp(prefix="tousu-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        (self.root / "wal").mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root / "wal", "postgres", "postgres")
        self.clusters: list[Cluster] = []
        return self

    def __exit__(self, *exc: object) -> None:
        for cluster in reversed(self.clusters):
            cluster.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def primary(self) -> Cluster:
        cluster = Cluster(self.root, "primary", free_port())
        _as_postgres(
            [
                str(BIN / "initdb"),
                "-D",
                str(cluster.dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        _conf(
            cluster,
            f"port = {cluster.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
            "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\nfull_page_writes = on\n"
            f"archive_mode = on\narchive_command = 'test ! -f {self.root}/wal/%f && cp %p {self.root}/wal/%f'\n"
            "archive_timeout = 1\n",
        )
        self.clusters.append(cluster)
        cluster.start()
        cluster.wait_ready()
        with cluster.connect() as conn:
            conn.execute("CREATE DATABASE tousu")
        return cluster

    def base_backup(self, primary: Cluster, name: str, *, standby: bool) -> Cluster:
        cluster = Cluster(self.root, name, free_port())
        argv = [str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
        argv += ["-D", str(cluster.dir), "-X", "stream", "--no-sync"]
        if standby:
            argv.append("-R")
        _as_postgres(argv)
        _conf(cluster, f"port = {cluster.port}\narchive_mode = off\n")
        return cluster

    def standby(self, primary: Cluster) -> Cluster:
        cluster = self.base_backup(primary, f"standby{len(self.clusters)}", standby=True)
        self.clusters.append(cluster)
        cluster.start()
        cluster.wait_ready()
        return cluster

    def launch(self, cluster: Cluster) -> None:
        self.clusters.append(cluster)
        cluster.start()
        cluster.wait_ready(60)
