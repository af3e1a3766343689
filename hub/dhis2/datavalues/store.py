# ruff: noqa: S608  (statements are built from this module's constants only, never from input)
"""Writes validated rows in bulk and counts them as DHIS2 does (imported, updated, ignored, deleted).

Per chunk: one indexed query finds which keys already exist (the key leads with org unit and
period, the way payloads are grouped), the strategy decides in Python what each row does, then
one bulk statement writes: PostgreSQL COPYs into a temporary staging table and inserts it into
the store, with a plain INSERT when no key of the chunk was stored (the bulk-load case: half the
server's work) and INSERT … ON CONFLICT otherwise; SQLite runs the upsert with executemany.
Deletion is soft, as in DHIS2, so a deleted value can be read back with ``includeDeleted`` and
re-created later. Values outside the data element's min/max at that org unit are marked for
follow-up on the way in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from hub.db.base import UTCDateTime
from hub.dhis2.datavalues.models import DataValue
from hub.dhis2.datavalues.summary import ImportCount
from hub.dhis2.datavalues.validation import Row
from hub.dhis2.metadata.models import MinMaxDataElement

STAGING = "dhis2_dv_staging"
KEY = ("org_unit", "period", "data_element", "category_option_combo", "attribute_option_combo")
STAGED = (*KEY, "value", "comment", "stored_by", "followup", "numeric_value")
WRITTEN = (*KEY, "value", "comment", "stored_by", "followup", "deleted", "client_id", "transaction_id",
           "created", "last_updated")  # fmt: skip
UPDATED = (
    "value",
    "comment",
    "stored_by",
    "followup",
    "deleted",
    "client_id",
    "transaction_id",
    "last_updated",
)
OUTLIER = (
    "EXISTS (SELECT 1 FROM dhis2_min_max_data_elements m WHERE m.data_element_uid = {de}"
    " AND m.org_unit_uid = {ou} AND m.category_option_combo_uid = {coc}"
    " AND ({num} < m.min_value OR {num} > m.max_value))"
)
ON_CONFLICT = f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in UPDATED
)
# SQLite: numbered parameters so the min/max check can reuse the row's own values
SQLITE_UPSERT = (
    f"INSERT INTO dhis2_data_values ({', '.join(WRITTEN)})"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {followup}, FALSE, ?10, ?11, ?12, ?12)" + ON_CONFLICT
)
SQLITE_FOLLOWUP = "(?9 OR " + OUTLIER.format(de="?3", ou="?1", coc="?4", num="?13") + ")"
PG_INSERT = (
    f"INSERT INTO dhis2_data_values ({', '.join(WRITTEN)}) SELECT {', '.join(f's.{k}' for k in KEY)},"
    " s.value, s.comment, s.stored_by, {followup}, FALSE, %(client)s, %(tx)s, %(now)s, %(now)s"
    f" FROM {STAGING} s"
)
PG_UPSERT = PG_INSERT + ON_CONFLICT
PG_OUTLIER = OUTLIER.format(
    de="s.data_element", ou="s.org_unit", coc="s.category_option_combo", num="s.numeric_value"
)
PG_FOLLOWUP = f"(s.followup OR {PG_OUTLIER})"
CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (org_unit VARCHAR(11), period VARCHAR(20),"
    " data_element VARCHAR(11), category_option_combo VARCHAR(11), attribute_option_combo VARCHAR(11),"
    " value TEXT, comment TEXT, stored_by VARCHAR(255), followup BOOLEAN, numeric_value DOUBLE PRECISION)"
)
NULL = "\\N"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
MARK_DELETED = (
    "UPDATE dhis2_data_values SET deleted = TRUE, client_id = {p}, transaction_id = {p}, last_updated = {p}"
    " WHERE " + " AND ".join(f"{k} = {{p}}" for k in KEY)
)


def has_min_max(session: Session) -> bool:
    """Whether any min/max bounds exist: without them the outlier check is skipped altogether."""
    return session.scalar(select(MinMaxDataElement.data_element_uid).limit(1)) is not None


def _existing(session: Session, rows: list[Row]) -> dict[tuple[str, ...], bool]:
    """key -> deleted, for the stored values among ``rows``' org units and periods."""
    units = {row[0] for row in rows}
    periods = {row[1] for row in rows}
    columns = [getattr(DataValue, k) for k in KEY]
    query = select(*columns, DataValue.deleted).where(
        DataValue.org_unit.in_(units), DataValue.period.in_(periods)
    )
    return {tuple(found[:5]): bool(found[5]) for found in session.execute(query)}


def _now(connection: Connection, now: datetime) -> Any:
    convert: Callable[[Any], Any] | None = UTCDateTime().bind_processor(connection.dialect)
    bound = convert(now) if convert else now
    if connection.dialect.name == "sqlite" and isinstance(bound, datetime):
        # what sqlite3's datetime adapter would store, converted once instead of once per row
        return bound.isoformat(" ")
    return bound


def _upsert(
    connection: Connection, rows: list[Row], params: dict[str, Any], min_max: bool, *, fresh: bool
) -> None:
    """``fresh``: none of ``rows``' keys was stored when the chunk began."""
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        followup = PG_FOLLOWUP if min_max else "s.followup"
        with raw.cursor() as cursor:
            cursor.execute(CREATE_STAGING)
            cursor.execute(f"TRUNCATE {STAGING}")
            with cursor.copy(f"COPY {STAGING} ({', '.join(STAGED)}) FROM STDIN") as copy:
                copy.write(copy_text(rows))
            if not (fresh and _inserted(cursor, PG_INSERT.format(followup=followup), params)):
                cursor.execute(PG_UPSERT.format(followup=followup), params)
        return
    sql = SQLITE_UPSERT.format(followup=SQLITE_FOLLOWUP if min_max else "?9")
    tail = (params["client"], params["tx"], params["now"])
    if min_max:
        raw.executemany(sql, [(*row[:9], *tail, row[10]) for row in rows])
    else:
        raw.executemany(sql, [(*row[:9], *tail) for row in rows])


def _inserted(cursor: Any, insert: str, params: dict[str, Any]) -> bool:
    """Try the plain insert, half the server's work of the merge; False when a concurrent import
    stored one of the keys meanwhile (the savepoint undoes the attempt and the merge runs)."""
    cursor.execute("SAVEPOINT dhis2_dv_insert")
    try:
        cursor.execute(insert, params)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT dhis2_dv_insert")
        return False
    cursor.execute("RELEASE SAVEPOINT dhis2_dv_insert")
    return True


def copy_text(rows: list[Row]) -> str:
    """``rows`` as COPY text (the STAGED columns), formatted in one pass rather than per field.

    Fields are written as they are; when the result shows that one held a tab, newline, carriage
    return or backslash (more of them than the layout and the NULL markers account for), the
    chunk is formatted again with every field escaped.
    """
    text = "".join([
        f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{NULL if r[5] is None else r[5]}\t"
        f"{NULL if r[6] is None else r[6]}\t{NULL if r[7] is None else r[7]}\t{'t' if r[8] else 'f'}\t"
        f"{NULL if r[10] is None else repr(r[10])}\n"
        for r in rows
    ])  # fmt: skip
    nulls = sum(list(map(itemgetter(i), rows)).count(None) for i in (5, 6, 7, 10))
    n = len(rows)
    if text.count("\t") == 9 * n and text.count("\n") == n and text.count("\\") == nulls and "\r" not in text:
        return text
    return "".join(
        "\t".join(_escaped(v) for v in (*r[:8], "t" if r[8] else "f", None if r[10] is None else repr(r[10])))
        + "\n"
        for r in rows
    )


def _escaped(value: str | None) -> str:
    if value is None:
        return NULL
    return value.translate(COPY_ESCAPES)


def _mark_deleted(connection: Connection, keys: list[tuple[str, ...]], params: dict[str, Any]) -> None:
    raw: Any = connection.connection.driver_connection
    head = (params["client"], params["tx"], params["now"])
    values = [(*head, *key) for key in keys]
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            cursor.executemany(MARK_DELETED.format(p="%s"), values)
    else:
        raw.executemany(MARK_DELETED.format(p="?"), values)


def write(
    session: Session,
    *,
    rows: list[Row],
    strategy: str,
    client: str,
    transaction_id: int,
    now: datetime,
    min_max: bool = False,
    check_existing: bool = True,
) -> ImportCount:
    """Merge ``rows`` into the store by ``strategy``; what happened, counted as DHIS2 counts.

    ``check_existing=False`` is DHIS2's ``skipExistingCheck``: every row is taken to be new, and
    counted so, without looking; a row that did exist is still merged, never duplicated or lost.
    """
    count = ImportCount()
    if not rows:
        return count
    latest = {row[:5]: row for row in rows}
    # a key repeated in one payload: DHIS2 writes it twice, the second time as an update
    repeats = len(rows) - len(latest)
    if strategy == "CREATE_AND_UPDATE":
        count.updated += repeats
    else:
        count.ignored += repeats
    existing = _existing(session, list(latest.values())) if check_existing else {}
    writes: list[Row] = []
    fresh = True
    removals: list[tuple[str, ...]] = []
    for key, row in latest.items():
        live = key in existing and not existing[key]
        if row[9]:
            if live:
                removals.append(key)
            else:
                count.ignored += 1
        elif strategy == "CREATE_AND_UPDATE" or (strategy == "CREATE") != live:
            writes.append(row)
            fresh = fresh and key not in existing
            if live:
                count.updated += 1
            else:
                count.imported += 1
        else:
            count.ignored += 1
    connection = session.connection()
    params = {"client": client, "tx": transaction_id, "now": _now(connection, now)}
    if writes:
        _upsert(connection, writes, params, min_max, fresh=fresh)
    if removals:
        _mark_deleted(connection, removals, params)
        count.deleted += len(removals)
    return count
