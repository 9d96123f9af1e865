"""Engines, sessions and migrations for the lattice store.

Opening a store whose schema is current reads the ``alembic_version`` row with
plain SQL and the head revision from the migration files' headers; Alembic is
imported only to create or upgrade a schema (it costs a few hundred
milliseconds of start-up that ``cfgraph sql`` and ``cfgraph --help`` should not pay).
"""

from __future__ import annotations

import os
import re
import sqlite3
import weakref
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from cfgraph.errors import CfgraphError
from cfgraph.resources import resource_dir
from cfgraph.sql_functions import install_get_bit

DEFAULT_PATH = "cfgraph.db"
ENV_URL = "CFGRAPH_DATABASE_URL"


def resolve_url(db: str | os.PathLike | None = None) -> str:
    """The database URL: ``db`` (a path or URL), else ``$CFGRAPH_DATABASE_URL``, else ``./cfgraph.db``.

    A plain ``postgresql://`` URL gets the psycopg (3) driver, cfgraph's ``postgres`` extra.

    Raises
    ------
    CfgraphError
        If the URL cannot be parsed.
    """
    target = str(db) if db is not None else os.environ.get(ENV_URL) or DEFAULT_PATH
    if "://" not in target:
        target = "sqlite:///" + str(Path(target).expanduser().resolve())
    try:
        parsed = make_url(target)
    except ArgumentError as exc:
        raise CfgraphError(f"not a database URL: {target!r} ({exc})") from None
    if parsed.drivername in ("postgresql", "postgres"):  # psycopg 3 (cfgraph[postgres]), not psycopg2
        target = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return target


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching a new file to WAL waits for its lock
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
    # PostgreSQL's get_bit, so `get_bit(node.members, unit.idx) = 1` reads the same on both.
    install_get_bit(dbapi_connection)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get foreign keys, WAL, a busy timeout and ``get_bit``."""
    try:
        engine = create_engine(url)
    except ImportError as exc:  # e.g. postgresql:// without psycopg installed
        raise CfgraphError(f"no database driver for {make_url(url).drivername} ({exc.name or exc}); "
                           "install it into the environment first") from None
    except ArgumentError as exc:
        raise CfgraphError(f"not a database URL: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config():
    """The Alembic configuration (``alembic.config.Config``) pointing at cfgraph's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    return config


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:None|[\"']([^\"']*)[\"'])", re.MULTILINE)


def known_revisions() -> tuple[set[str], set[str]]:
    """Every migration's revision id, and those that another migration revises (no Alembic import)."""
    revisions, parents = set(), set()
    for path in sorted((resource_dir("migrations") / "versions").glob("*.py")):
        found = dict((key, value) for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            if found.get("down_revision"):
                parents.add(found["down_revision"])
    return revisions, parents


def head_revision() -> str:
    """The newest migration's revision id, read from the ``revision`` / ``down_revision`` lines
    of ``migrations/versions/*.py`` (no Alembic import); Alembic decides when they are not a
    single plain chain.
    """
    revisions, parents = known_revisions()
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory  # branches or merges: let Alembic resolve them

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database's ``alembic_version`` table (None without a schema)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else (None if not rows else ",".join(sorted(rows)))


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema with Alembic (the only way the schema is created)."""
    from alembic import command

    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # Batch migrations copy and drop tables; with foreign keys on, dropping a
            # parent table would cascade-delete its children. The pragma is a no-op
            # inside a transaction, so it is set before Alembic begins one.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()
        if sqlite:
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            if broken:
                raise CfgraphError(f"migration left {len(broken)} broken foreign key(s)")


def _check_readable(url: str) -> None:
    """Refuse a SQLite file without a cfgraph schema before anything writes to it.

    A read command (``worlds``, ``sql``, ``related list``) must not create the file, nor turn an
    empty or foreign file into a WAL database by connecting to it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if not path.is_file():
        raise CfgraphError(f"no database at {path} (run `cfgraph init` or `make demo`)")
    try:
        with closing(sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)) as conn:
            has_schema = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise CfgraphError(f"{path} is not a cfgraph database ({exc})") from None
    if not has_schema:
        raise CfgraphError(f"no cfgraph schema in {path} (run `cfgraph init` or `make demo`)")


@contextmanager
def _migration_lock(sqlite_path: str | None):
    """Hold an exclusive lock on the database file while migrating (no-op for other databases)."""
    if sqlite_path is None:
        yield
        return
    import fcntl

    with open(sqlite_path, "ab") as handle:  # flock locks are separate from SQLite's own locks
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Store:
    """A database holding worlds: an engine plus a session factory.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (see :func:`resolve_url`).
    create : bool
        Run the migrations up to head when the schema is missing or behind.
        When False, a database without the schema raises CfgraphError.
    """

    def __init__(self, url: str, create: bool = True):
        self.url = url
        if not create:
            _check_readable(url)  # before the engine's first connection sets WAL on the file
        self.engine = make_engine(url)
        # A store dropped without close() (a CLI command's) still closes its pooled connections
        # (psycopg warns about a connection garbage-collected open); its sessions keep it alive
        # (``session.info["store"]``), so none is closed under a session still using it.
        weakref.finalize(self, self.engine.dispose)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        revision = current_revision(self.engine)
        if revision is not None and revision not in known_revisions()[0]:
            raise CfgraphError(f"the schema in {self.describe()} is at revision {revision[:40]!r}, which this "
                               f"cfgraph does not know (its newest is {head_revision()}): a newer cfgraph made it; "
                               "upgrade cfgraph to use it")
        if revision != head_revision():
            if not create and revision is None:
                raise CfgraphError(
                    f"no cfgraph schema in {self.describe()} (run `cfgraph init` or `make demo`)"
                )
            if not create:
                raise CfgraphError(
                    f"the schema in {self.describe()} is at revision {revision}, not {head_revision()}: "
                    "run `cfgraph init` to upgrade it"
                )
            with _migration_lock(self.sqlite_path):
                # Two runs started together on a new file: the second waits here, then finds
                # the schema the first made and has nothing to do.
                if current_revision(self.engine) != head_revision():
                    migrate(self.engine)

    def describe(self) -> str:
        url = make_url(self.url)
        return url.database if url.drivername.startswith("sqlite") else url.render_as_string()

    @property
    def sqlite_path(self) -> str | None:
        url = make_url(self.url)
        if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
            return url.database
        return None

    def session(self) -> Session:
        """A new session; use ``with store.session() as s, s.begin():`` for a transaction."""
        return self._sessions(info={"store": self})

    @contextmanager
    def transaction(self):
        """A session inside one transaction: committed on success, rolled back on any error."""
        with self.session() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_store(db: str | os.PathLike | None = None, create: bool = True) -> Store:
    """Open (and by default create or upgrade) the store at ``db`` (see :func:`resolve_url`)."""
    url = resolve_url(db)
    if not create and url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and not Path(path).exists():
            raise CfgraphError(f"no database at {path} (run `cfgraph init` or `make demo`)")
    return Store(url, create=create)
