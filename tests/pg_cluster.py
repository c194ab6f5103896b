"""A private PostgreSQL cluster for tests: ``initdb`` into a temporary directory, ``pg_ctl``
on a free loopback port, one database per test, stopped at the end.

Debian's ``postgresql`` package puts the binaries in ``/usr/lib/postgresql/<version>/bin``
(``.ci/run`` installs it).  ``initdb`` refuses to run as root, so as root the cluster runs as
the ``postgres`` user (``runuser``).  Authentication is ``trust`` on loopback: a password in
a test URL is accepted and ignored, which lets tests check it never shows.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

__all__ = ["TEST_PASSWORD", "PgCluster", "pg_bin_dir", "pg_cluster"]

#: the user the cluster's superuser role is named after
SUPERUSER = "leyden"
#: the password tests put in their URLs: it must never show in errors, logs or reprs
TEST_PASSWORD = "pg-s3cret-pw"


def pg_bin_dir() -> str | None:
    """The newest installed PostgreSQL's bin directory with initdb and pg_ctl, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One running cluster; :meth:`database` makes a fresh database and returns its URL."""

    def __init__(self, bin_dir: str) -> None:
        self.bin_dir = bin_dir
        self.dir = tempfile.mkdtemp(prefix="leyden-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self._names = count(1)
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise LookupError(
                    "initdb refuses to run as root and there is no postgres user to run it as"
                ) from None
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self._prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip() or result.stdout}")

    def start(self) -> None:
        self._run(
            os.path.join(self.bin_dir, "initdb"),
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start_server()

    def _options(self) -> str:
        return (
            f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )

    def start_server(self) -> None:
        """Start the (initialized) cluster's server: at :meth:`start`, or again after
        :meth:`stop_server`."""
        log = os.path.join(self.dir, "postgres.log")
        pg_ctl = os.path.join(self.bin_dir, "pg_ctl")
        self._run(pg_ctl, "-D", self.data, "-l", log, "-w", "-o", self._options(), "start")

    def stop_server(self) -> None:
        """Stop the server, keeping its data (the database going away under a client)."""
        pg_ctl = os.path.join(self.bin_dir, "pg_ctl")
        self._run(pg_ctl, "-D", self.data, "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run(
                    os.path.join(self.bin_dir, "pg_ctl"),
                    "-D",
                    self.data,
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str, *, password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def database(self, *, password: str = "") -> str:
        """A new empty database; its URL (with ``password`` in it, ignored by trust auth)."""
        import psycopg  # only where PostgreSQL tests run

        name = f"leyden_test_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, password=password)


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """Start a cluster, yield it, stop it; raises ``LookupError`` without the binaries."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise LookupError(
            "PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql)"
        )
    cluster = PgCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
