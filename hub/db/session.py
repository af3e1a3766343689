"""Engines and the one owner of each DB transaction.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` so concurrent writers wait on
``busy_timeout`` instead of failing with "database is locked" on a lock upgrade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

SQLITE_MAX_VARIABLES = 32_766  # SQLITE_MAX_VARIABLE_NUMBER's default since SQLite 3.32


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _begin_immediate(conn: Connection) -> None:
    # Straight on the DBAPI connection: every transaction begins here, and going through
    # SQLAlchemy's statement machinery adds about a sixth to a logged one-row write.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and immediate transactions."""
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=20, max_overflow=20)
    # JSON columns are on every logged request; orjson is several times faster than json.
    kwargs.update(json_serializer=_json_dumps, json_deserializer=orjson.loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Commit on success, roll back on error: the owner of one DB transaction."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


class Prepared:
    """A Core statement compiled once for ``engine`` and run on the DBAPI cursor, for the hottest writes.

    It skips SQLAlchemy's per-execution work (cache key, execution context, result wrapping)
    but keeps its SQL, its type conversions (JSON, UTC datetimes, booleans) and its exception
    classes, so rows read back and errors surface exactly as through SQLAlchemy. Every bound
    parameter must be given: column defaults are not applied.
    """

    def __init__(self, statement: Executable, engine: Engine, keys: Sequence[str]) -> None:
        self.dialect = dialect = engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup or compiled.binds)
        missing = set(names) - set(keys)
        if missing:
            raise ValueError(f"no value given for {sorted(missing)} in: {compiled.string}")
        self.sql = compiled.string
        self._converters: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
        ]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """``values`` by name, converted as SQLAlchemy would, in the driver's parameter style."""
        converted = [(n, values[n] if f is None else f(values[n])) for n, f in self._converters]
        return [v for _, v in converted] if self.dialect.positional else dict(converted)

    def insert_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert ``rows`` (the statement is ``INSERT … RETURNING <integer key>``); their keys in row order.

        Made for a writer thread sharing the GIL with a busy event loop: every call into the
        driver that waits (a SQLite engine step, a PostgreSQL round trip) hands the GIL back and
        waits to retake it, so the fewer the better. PostgreSQL: one pipelined ``executemany``
        (the SQL is the same for any number of rows, so it is parsed once). SQLite: one
        multi-row ``INSERT`` (one engine step, where RETURNING would take a step per row); the
        new rowids are consecutive, as SQLite gives each new row the largest rowid plus one,
        and end at ``last_insert_rowid()``.
        """
        parameters = [self.parameters(r) for r in rows]
        cursor = connection.connection.cursor()
        with self._wrapped(parameters):
            if self.dialect.name == "postgresql":
                cursor.executemany(self.sql, parameters, returning=True)
                found = [cursor.fetchone()[0]]
                while cursor.nextset():
                    found.append(cursor.fetchone()[0])
                return found
            ids: list[int] = []
            for part in self._sqlite_parts(parameters):
                cursor.execute(self._sqlite_multi_row(len(part)), [v for p in part for v in p])
                last: int = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
                ids += range(last - len(part) + 1, last + 1)
            return ids

    def update_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the ``UPDATE … WHERE key = ?`` once per row; on SQLite as one ``UPDATE … FROM (VALUES …)``
        (one engine step rather than one per row: see :meth:`insert_many`)."""
        if self.dialect.name != "sqlite" or len(rows) == 1:
            self.execute_many(connection, rows)
            return
        parameters = [self.parameters(r) for r in rows]
        cursor = connection.connection.cursor()
        with self._wrapped(parameters):
            for part in self._sqlite_parts(parameters):
                cursor.execute(self._sqlite_update_from(len(part)), [v for p in part for v in p])

    def _sqlite_parts(self, parameters: list[Any]) -> Iterator[list[Any]]:
        """``parameters`` in slices that keep one statement within SQLite's 32,766 bound values."""
        per = max(1, SQLITE_MAX_VARIABLES // max(1, len(self._converters)))
        for start in range(0, len(parameters), per):
            yield parameters[start : start + per]

    def _sqlite_multi_row(self, n: int) -> str:
        """This ``INSERT … VALUES (?, …) RETURNING …`` as ``INSERT … VALUES (?, …), …`` for ``n`` rows."""
        head, _, rest = self.sql.partition(" VALUES ")
        row = rest.partition(" RETURNING ")[0]
        return f"{head} VALUES {', '.join([row] * n)}"

    def _sqlite_update_from(self, n: int) -> str:
        """This ``UPDATE t SET a=?, … WHERE t.id = ?`` joined to ``n`` rows of values: each ``?`` in
        turn becomes the matching column of the VALUES rows (``columnN``, SQLite's names for them)."""
        head, _, tail = self.sql.partition(" SET ")
        parts = tail.split("?")
        assignments = "".join(f"{part}v.column{i + 1}" for i, part in enumerate(parts[:-1])) + parts[-1]
        set_clause, _, where = assignments.partition(" WHERE ")
        row = f"({', '.join('?' * len(parts[:-1]))})"
        return f"{head} SET {set_clause} FROM (VALUES {', '.join([row] * n)}) AS v WHERE {where}"

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row in ``connection``'s transaction, in one DBAPI ``executemany``."""
        parameters = [self.parameters(r) for r in rows]
        with self._wrapped(parameters):
            connection.connection.cursor().executemany(self.sql, parameters)

    @contextmanager
    def _wrapped(self, parameters: Any) -> Iterator[None]:
        dbapi_error = self.dialect.loaded_dbapi.Error
        try:
            yield
        except dbapi_error as exc:
            raise DBAPIError.instance(self.sql, parameters, exc, dbapi_error, dialect=self.dialect) from exc
