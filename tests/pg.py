"""A real PostgreSQL server for the tests: a throwaway cluster in a temporary directory.

``initdb`` and ``pg_ctl`` come from Debian's ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``) or the ``PATH``. PostgreSQL refuses to run as
root, so under root both run as the ``postgres`` user (``runuser``). The server listens
on 127.0.0.1 only, on a free port, with its socket in the cluster's directory; the
cluster trusts local and 127.0.0.1 connections and nothing else. Durability is switched
off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the cluster is deleted
after the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "postgres"
HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest Debian version first), or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                        reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).resolve().parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


def missing_requirement() -> str | None:
    """Why a PostgreSQL test cannot run here (naming the package to install), or None."""
    if find_bin_dir() is None:
        return "PostgreSQL server binaries are missing (apt-get install -y postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is missing (pip install 'psycopg[binary]>=3.1', or cfgraph[postgres])"
    if os.geteuid() == 0 and _postgres_uid() is None:
        return "running as root without a postgres user (apt-get install -y postgresql creates it)"
    return None


def _postgres_uid() -> int | None:
    import pwd

    try:
        return pwd.getpwnam(SUPERUSER).pw_uid
    except KeyError:
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster, started by :meth:`start` and removed by :meth:`stop`."""

    def __init__(self):
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="cfgraph-pg-"))
        self.data = self.root / "data"
        self.port = None
        self.as_root = os.geteuid() == 0
        if self.as_root:  # the postgres user must own the cluster and may not enter root's mkdtemp
            uid = _postgres_uid()
            os.chown(self.root, uid, -1)

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}\n{tail}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--no-sync",
                  "--encoding=UTF8", "--locale=C")
        (self.data / "pg_hba.conf").write_text(HBA)
        for attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            options = (f"-k {self.root} -h 127.0.0.1 -p {self.port} -c fsync=off -c synchronous_commit=off "
                       "-c full_page_writes=off -c max_connections=50")
            try:
                self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                          "-l", str(self.root / "server.log"), "-o", options)
                return self
            except RuntimeError:
                if attempt == 2:
                    raise
        return self

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                               autocommit=True)

    def create_database(self, template: str | None = None) -> str:
        """A fresh database, empty or a copy of ``template`` (which nobody may be connected to);
        returns its name."""
        name = f"t_{uuid.uuid4().hex}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            if self.port is not None and (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def every_row(db) -> dict[str, list[tuple]]:
    """Every row of every table of the store at ``db`` (a SQLite path or any URL), each table's rows
    sorted: equal before and after a command means the command changed nothing, on either backend."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool

    from cfgraph.store.db import resolve_url

    engine = create_engine(resolve_url(db), poolclass=NullPool)  # no pooled connection outlives the call
    try:
        with engine.connect() as conn:
            return {name: sorted((tuple(row) for row in conn.execute(text(f'SELECT * FROM "{name}"'))), key=repr)
                    for name in sorted(inspect(conn).get_table_names())}
    finally:
        engine.dispose()
