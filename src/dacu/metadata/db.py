"""Opening the metadata database and migrating it with the Alembic scripts packaged inside dacu.

`DACU_DB` chooses the database: `sqlite:///dacu-meta.sqlite` (default, a file in the current
folder) or `postgresql://user@host/db` (psycopg 3). `?schema=NAME` on a PostgreSQL URL keeps
dacu's tables in their own schema (tests use a fresh schema per run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from dacu.errors import WarehouseError

DEFAULT_DB = "sqlite:///dacu-meta.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class MetadataDB:
    """An engine and its session factory. Use `with db.session() as s:` (commits on success)."""

    url: str
    engine: Engine
    factory: sessionmaker[Session]
    schema: str | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.factory() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def db_url(url: str | None = None) -> str:
    """The metadata URL: the argument, else `DACU_DB`, else the SQLite file default."""
    return url or os.environ.get("DACU_DB") or DEFAULT_DB


def split_schema(url: str) -> tuple[str, str | None]:
    """`postgresql://…/db?schema=s` → (`postgresql+psycopg://…/db`, "s")."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise WarehouseError(f"DACU_DB={url!r} is not a database URL: {exc}") from exc
    query = dict(parsed.query)
    schema = query.pop("schema", None)
    if isinstance(schema, tuple):
        schema = schema[0]
    driver = parsed.drivername
    if driver in ("postgresql", "postgres"):
        driver = "postgresql+psycopg"
    fixed = parsed.set(drivername=driver, query=query)
    return fixed.render_as_string(hide_password=False), schema


def open_db(url: str | None = None) -> MetadataDB:
    """Open (not migrate) the metadata database named by `url` / `DACU_DB`."""
    raw = db_url(url)
    sa_url, schema = split_schema(raw)
    if not sa_url.startswith(("sqlite", "postgresql")):
        raise WarehouseError(
            f"DACU_DB={raw!r}: expected sqlite:///FILE or postgresql://USER@HOST/DB"
        )
    try:
        engine = _engine(sa_url, schema)
    except (SQLAlchemyError, ImportError) as exc:
        raise WarehouseError(f"cannot open metadata database {raw!r}: {exc}") from exc
    return MetadataDB(raw, engine, sessionmaker(engine, expire_on_commit=False), schema)


def _private_file(path: str | None) -> None:
    """The metadata file holds session ids and the cookie-signing secret: readable by its owner
    only (0600), created so before SQLite opens it (its -wal and -shm files copy the mode), and
    tightened when an older file was world-readable."""
    if not path:
        return
    file = Path(path)
    if not file.parent.is_dir():
        return  # SQLite says what is wrong
    os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
    if file.stat().st_mode & 0o077:
        file.chmod(0o600)


def _engine(sa_url: str, schema: str | None) -> Engine:
    if sa_url.startswith("sqlite"):
        memory = sa_url in ("sqlite://", "sqlite:///:memory:")
        if not memory:
            _private_file(make_url(sa_url).database)
        engine = create_engine(
            sa_url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(sa_url, connect_args=options, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(db: MetadataDB):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = db.engine
    config.attributes["schema"] = db.schema
    return config


def upgrade(db: MetadataDB, revision: str = "head") -> None:
    """Bring the schema to `revision` (creates the tables on a fresh database)."""
    from alembic import command

    if db.schema:
        with db.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{_ident(db.schema)}"'))
    command.upgrade(alembic_config(db), revision)


def current_revision(db: MetadataDB) -> str | None:
    """The revision the database is at (None when never migrated)."""
    table = f'"{_ident(db.schema)}".alembic_version' if db.schema else "alembic_version"
    try:
        with db.engine.connect() as conn:
            return conn.execute(text(f"SELECT version_num FROM {table}")).scalar()
    except SQLAlchemyError:
        return None


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration shipped with this dacu (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_bare_config(MIGRATIONS)).get_current_head() or ""


def _bare_config(scripts: Path):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(scripts))
    return config


def is_current(db: MetadataDB) -> bool:
    """True when the database exists and is at the newest migration."""
    try:
        return current_revision(db) == head_revision()
    except SQLAlchemyError:
        return False


def table_names(db: MetadataDB) -> list[str]:
    return sorted(inspect(db.engine).get_table_names(schema=db.schema))


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise WarehouseError(f"schema name {name!r}: expected letters, digits and _ only")
    return name
