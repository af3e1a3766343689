"""Engines and the one owner of each DB transaction.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` so concurrent writers wait on
``busy_timeout`` instead of failing with "database is locked" on a lock upgrade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, Dialect, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

from hub import json_text

CONNECT_TIMEOUT_S = 5  # PostgreSQL
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a SQLite connection waits for another's write lock
SQLITE_MAX_VARIABLES = 32_766  # SQLITE_MAX_VARIABLE_NUMBER's default since SQLite 3.32


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
    cur.close()


def _begin_immediate(conn: Connection) -> None:
    # Straight on the DBAPI connection: every transaction begins here, and going through
    # SQLAlchemy's statement machinery adds about a sixth to a logged one-row write. Its error is
    # raised as SQLAlchemy's, as the statement's would be: "database is locked" once busy_timeout
    # has run out is an OperationalError (a 503, and not retried as a refused write).
    with dbapi_errors_wrapped(conn.dialect, "BEGIN IMMEDIATE", ()):
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


@contextmanager
def dbapi_errors_wrapped(dialect: Dialect, sql: str, parameters: Any) -> Iterator[None]:
    """The driver's errors in the block, for ``sql`` run on the DBAPI connection, raised as
    SQLAlchemy raises them (``OperationalError``, ``IntegrityError``…), which the hub handles."""
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, parameters, exc, dbapi_error, dialect=dialect) from exc


def _json_dumps(value: Any) -> str:
    return json_text.without_nul(json_text.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode())


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and immediate transactions."""
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=20, max_overflow=20)
    # JSON columns are on every logged request; orjson is several times faster than json.
    kwargs.update(json_serializer=_json_dumps, json_deserializer=json_text.loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    # a server that does not answer (a dropped route) fails a connection in seconds, not minutes:
    # /ready and the CLI report it instead of hanging
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S, **kwargs.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


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


PLACEHOLDERS = {"qmark": "?", "format": "%s"}
CACHED_ROWS = 64  # Prepared keeps the SQL it built for up to this many rows
# bound values per statement: SQLite's SQLITE_MAX_VARIABLE_NUMBER (default since 3.32), and the
# 16-bit parameter count of PostgreSQL's protocol
MAX_VARIABLES = {"sqlite": SQLITE_MAX_VARIABLES, "postgresql": 65_535}


@dataclass(frozen=True, slots=True)
class _Shape:
    shared: list[Callable[[Any], Any] | None]  # the conversion of each shared value
    converted: list[tuple[int, Callable[[Any], Any]]]  # (parameter, conversion) for a row's own values


class Prepared:
    """A Core statement compiled once for ``engine`` and run on the DBAPI cursor, for the hottest writes.

    It skips SQLAlchemy's per-execution work (cache key, execution context, result wrapping)
    but keeps its SQL, its type conversions (JSON, UTC datetimes, booleans) and its exception
    classes, so rows read back and errors surface exactly as through SQLAlchemy. Every bound
    parameter must be given: column defaults are not applied. The engine's parameter style
    must be positional (SQLite's ``qmark``; ``paramstyle="format"`` for psycopg).

    Many rows go as one statement (one engine step on SQLite, one execution on PostgreSQL,
    rather than one per row): an ``INSERT`` with a ``VALUES`` row each, an ``UPDATE … FROM
    (VALUES …)``.
    """

    def __init__(self, statement: Executable, engine: Engine, keys: Sequence[str]) -> None:
        self.dialect = dialect = engine.dialect
        if dialect.paramstyle not in PLACEHOLDERS:
            raise ValueError(f"Prepared needs a positional parameter style, not {dialect.paramstyle}")
        self.placeholder = PLACEHOLDERS[dialect.paramstyle]
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup or ())
        missing = set(names) - set(keys)
        if missing:
            raise ValueError(f"no value given for {sorted(missing)} in: {compiled.string}")
        self.sql = compiled.string
        self.keys = tuple(keys)
        converters: list[Callable[[Any], Any] | None] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ]
        # each parameter: the position of its value in a row of ``keys``, and its conversion
        self._bound = [(self.keys.index(name), f) for name, f in zip(names, converters, strict=True)]
        picked = [k for k, _ in self._bound]
        self._pick: Callable[[tuple[Any, ...]], Sequence[Any]] = (
            itemgetter(*picked) if len(picked) > 1 else lambda row: [row[picked[0]]]
        )
        self._shapes: dict[int, _Shape] = {}
        self._names = names
        self._built: dict[tuple[Any, ...], str] = {}
        most = MAX_VARIABLES.get(dialect.name, SQLITE_MAX_VARIABLES)
        self._per_statement = max(1, most // max(1, len(names)))

    def rows(self, rows: Iterable[Sequence[Any]], shared: Sequence[Any] = ()) -> list[list[Any]]:
        """The statement's parameters, converted as SQLAlchemy would, for rows given as their values
        in ``keys`` order; the last ``len(shared)`` keys take the values ``shared`` in every row,
        converted once."""
        shape = self._shape(len(self.keys) - len(shared))
        tail = tuple(f(v) if f is not None else v for v, f in zip(shared, shape.shared, strict=True))
        pick, converted = self._pick, shape.converted
        parameters = []
        for row in rows:
            values = list(pick((*row, *tail)))
            for i, f in converted:
                values[i] = f(values[i])
            parameters.append(values)
        return parameters

    def _shape(self, width: int) -> _Shape:
        """How rows whose first ``width`` keys vary are converted (built once per width)."""
        shape = self._shapes.get(width)
        if shape is None:
            shared: list[Callable[[Any], Any] | None] = [None] * (len(self.keys) - width)
            for k, f in self._bound:
                if k >= width:
                    shared[k - width] = f
            converted = [(i, f) for i, (k, f) in enumerate(self._bound) if f is not None and k < width]
            shape = self._shapes[width] = _Shape(shared, converted)
        return shape

    def insert_many(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Insert ``rows`` of parameters (:meth:`rows`; the statement is ``INSERT … VALUES …
        RETURNING <integer key>``); their keys in row order.

        The new keys are consecutive on SQLite (each new row gets the largest rowid plus one) and
        end at ``last_insert_rowid()``; on PostgreSQL the sequence is drawn row by row in
        ``VALUES`` order, so the i-th smallest key returned is the i-th row's.
        """
        cursor = self._cursor(connection)
        ids: list[int] = []
        for part in self._parts(rows):
            sql = self._statement("insert", len(part))
            with self._wrapped(sql, part):
                cursor.execute(sql, [v for p in part for v in p])
                if self.dialect.name == "sqlite":
                    last: int = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
                    ids += range(last - len(part) + 1, last + 1)
                else:
                    ids += sorted(r[0] for r in cursor.fetchall())
        return ids

    def update_many(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Run the ``UPDATE … SET a = ?, … WHERE key = ?`` for every row of parameters (:meth:`rows`),
        as ``UPDATE … FROM (VALUES …)``."""
        cursor = self._cursor(connection)
        for part in self._parts(rows):
            sql = self._statement("update", len(part))
            with self._wrapped(sql, part):
                cursor.execute(sql, [v for p in part for v in p])

    def insert_after_update(
        self,
        connection: Connection,
        rows: Sequence[Sequence[Any]],
        update: Prepared,
        update_rows: Sequence[Sequence[Any]],
    ) -> list[int] | None:
        """PostgreSQL: :meth:`insert_many` of ``rows`` and ``update``'s :meth:`update_many` of
        ``update_rows`` as one ``WITH updated AS (UPDATE …) INSERT … RETURNING`` (or either
        alone); the new keys in row order. One statement is atomic, so in autocommit it needs no
        transaction: one round trip in all. None, having done nothing, when the rows would pass
        the protocol's bound values: then use the two methods in a transaction."""
        bound = len(self._names) * len(rows) + len(update._names) * len(update_rows)
        if bound > MAX_VARIABLES["postgresql"]:
            return None
        key = ("both", len(rows), len(update_rows))
        sql = self._built.get(key)
        if sql is None:
            parts = [update._update_from(len(update_rows))] if update_rows else []
            parts += [self._multi_row(len(rows))] if rows else []
            sql = _numbered(f"WITH updated AS ({parts[0]}) {parts[1]}" if len(parts) == 2 else parts[0])
            if len(rows) + len(update_rows) <= CACHED_ROWS:
                self._built[key] = sql
        parameters = [v for r in update_rows for v in r]
        parameters += [v for r in rows for v in r]
        cursor = self._cursor(connection)
        with self._wrapped(sql, parameters):
            cursor.execute(sql, parameters)
            return sorted(r[0] for r in cursor.fetchall()) if rows else []

    def _cursor(self, connection: Connection) -> Any:
        """The DBAPI cursor; on PostgreSQL psycopg's ``RawCursor``, which takes ``$n`` placeholders
        as they are, where its default cursor parses every statement for ``%s`` (~1 ms for a
        group's statement, past the size its cache of parsed statements takes)."""
        dbapi_connection = connection.connection.dbapi_connection
        if self.dialect.name == "postgresql":
            return self.dialect.loaded_dbapi.RawCursor(dbapi_connection)
        return dbapi_connection.cursor()

    def _parts(self, rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
        """The rows, in slices that keep a statement within the driver's bound values."""
        for start in range(0, len(rows), self._per_statement):
            yield rows[start : start + self._per_statement]

    def _statement(self, kind: str, n: int) -> str:
        """The SQL for ``n`` rows, as the cursor of :meth:`_cursor` takes it; built once per size
        for the sizes groups usually have."""
        sql = self._built.get((kind, n))
        if sql is None:
            sql = self._multi_row(n) if kind == "insert" else self._update_from(n)
            if self.dialect.name == "postgresql":
                sql = _numbered(sql)
            if n <= CACHED_ROWS:
                self._built[(kind, n)] = sql
        return sql

    def _multi_row(self, n: int) -> str:
        """This ``INSERT … VALUES (?, …) RETURNING …`` for ``n`` rows; SQLite's without RETURNING
        (one engine step, where RETURNING would take one per row: see :meth:`insert_many`)."""
        head, _, rest = self.sql.partition(" VALUES ")
        row, _, returning = rest.partition(" RETURNING ")
        sql = f"{head} VALUES {', '.join([row] * n)}"
        return sql if self.dialect.name == "sqlite" else f"{sql} RETURNING {returning}"

    def _update_from(self, n: int) -> str:
        """This ``UPDATE t SET a=?, … WHERE t.id = ?`` joined to ``n`` rows of values: each
        placeholder in turn becomes the matching column of the VALUES rows (``columnN``, the name
        both databases give them), keeping any cast written after it (PostgreSQL's ``::JSONB``)."""
        head, _, tail = self.sql.partition(" SET ")
        parts = tail.split(self.placeholder)
        assignments = "".join(f"{part}v.column{i + 1}" for i, part in enumerate(parts[:-1])) + parts[-1]
        set_clause, _, where = assignments.partition(" WHERE ")
        row = f"({', '.join([self.placeholder] * (len(parts) - 1))})"
        return f"{head} SET {set_clause} FROM (VALUES {', '.join([row] * n)}) AS v WHERE {where}"

    def _wrapped(self, sql: str, parameters: Any) -> AbstractContextManager[None]:
        return dbapi_errors_wrapped(self.dialect, sql, parameters)


def _numbered(sql: str) -> str:
    """psycopg's ``%s`` placeholders in ``sql`` as PostgreSQL's own ``$1``, ``$2``…"""
    pieces = sql.split(PLACEHOLDERS["format"])
    return "".join(f"{piece}${i + 1}" for i, piece in enumerate(pieces[:-1])) + pieces[-1]
