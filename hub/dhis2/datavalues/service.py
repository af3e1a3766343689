"""One dataValueSet import, start to end: read → resolve id schemes → validate → store → queue.

The payload is consumed in chunks of :data:`CHUNK` values, each in its own DB transaction that
stores the chunk and enqueues its deliveries together, so memory stays flat, SQLite writers are
not blocked for the length of a huge import, and a stored value is never left without its delivery.
Like DHIS2, values of chunks already committed stay when a later part of the payload turns out
malformed; the summary says the import failed and where. A dry run rolls every chunk back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any, BinaryIO

from hub.db.base import utcnow
from hub.db.session import Database
from hub.dhis2.config import Dhis2Target
from hub.dhis2.datavalues import completeness, deliveries, log, store
from hub.dhis2.datavalues.parsers import MalformedPayload, RawValue, reader_for
from hub.dhis2.datavalues.resolver import Resolver, Schemes
from hub.dhis2.datavalues.summary import ImportCount, ImportSummary
from hub.dhis2.datavalues.validation import Row, Rules, SetContext, Validator, set_context
from hub.dhis2.datavalues.writer import InlineWriter, Job, ProcessWriter
from hub.errors import BadRequest, Conflict
from hub.outbox.service import DeliverySpec
from hub.settings import Settings

CHUNK = 10_000
# below this a writer process costs more to start (~0.5 s of imports) than it saves
PROCESS_MIN_BYTES = 8 * 1024 * 1024
STRATEGIES = {"CREATE_AND_UPDATE": "CREATE_AND_UPDATE", "CREATE": "CREATE", "UPDATE": "UPDATE",
              "DELETE": "DELETE", "NEW_AND_UPDATES": "CREATE_AND_UPDATE", "NEW": "CREATE",
              "UPDATES": "UPDATE", "DELETES": "DELETE"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the request asks for, independent of HTTP (the async job stores it as JSON)."""

    fmt: str
    params: dict[str, str]
    client: str
    roots: tuple[str, ...]
    roles: tuple[str, ...] = ()

    def flag(self, name: str) -> bool:
        """A boolean query parameter, as DHIS2 reads them: true only when it says ``true``."""
        return self.params.get(name, "false").lower() == "true"

    @property
    def dry_run(self) -> bool:
        return self.flag("dryRun")

    @property
    def skip_existing_check(self) -> bool:
        return self.flag("skipExistingCheck")

    @property
    def strategy(self) -> str:
        given = self.params.get("importStrategy", "CREATE_AND_UPDATE").upper()
        if given not in STRATEGIES:
            raise BadRequest(
                f"unknown importStrategy {given!r}; one of CREATE, UPDATE, CREATE_AND_UPDATE, DELETE"
            )
        return STRATEGIES[given]


@dataclass(slots=True)
class Importer:
    """The state one import carries from chunk to chunk."""

    db: Database
    options: ImportOptions
    transaction_id: int
    targets: list[Dhis2Target]
    settings: Settings
    summary: ImportSummary

    def run(self, source: BinaryIO, *, today: date, progress: Callable[[int], None] | None = None) -> None:
        """Parse and validate here; a writer (a process for big payloads) stores chunk by chunk."""
        options, summary = self.options, self.summary
        strategy = options.strategy
        try:
            big = _size(source) >= PROCESS_MIN_BYTES
            payload = reader_for(options.fmt)(source, options.params)
            schemes = Schemes.from_request(options.params, payload.header, payload.default_id_scheme)
            with self.db.session() as session:
                resolver = Resolver(session, schemes=schemes, roots=options.roots)
                min_max = store.has_min_max(session)
            rules = Rules.from_request(options.flag, options.roles)
            context = set_context(payload.header, resolver, summary, rules)
            if context is None:
                return
            check = Validator(
                resolver, context, summary, strategy=strategy, client=options.client, today=today
            ).check
            job = Job(self.db.url, options.client, self.transaction_id, strategy, options.dry_run, min_max,
                      check_existing=not options.skip_existing_check)  # fmt: skip
            writer = ProcessWriter(job) if big and _shareable(self.db) else InlineWriter(self.db, job)
            done = 0
            try:
                for chunk in _chunks(payload.values):
                    rows = [row for row in (check(index, raw) for index, raw in chunk) if row is not None]
                    self._count(writer.write(rows, self._deliveries(rows, strategy, rules.force)))
                    done += len(chunk)
                    if progress:
                        progress(done)
            finally:
                self._count(writer.close())
            if payload.header.complete_date:
                self._complete(payload.header.complete_date, context, resolver.default_coc)
        except MalformedPayload as exc:
            summary.fail(str(exc))

    def _deliveries(self, rows: list[Row], strategy: str, force: bool) -> list[DeliverySpec]:
        """Built here, not in a writer process: that one is the busier side of a big import.

        Values a superuser forced past expiry are sent with ``force=true`` too, or DHIS2 would
        refuse what the hub accepted (the target's account must be a DHIS2 superuser as well).
        """
        if self.options.dry_run:
            return []
        return deliveries.for_chunk(
            rows, targets=self.targets, strategy=strategy, settings=self.settings, force=force
        )

    def _count(self, counts: list[ImportCount]) -> None:
        for count in counts:
            self.summary.count.add(count)

    def _complete(self, complete_date: str, context: SetContext, default_aoc: str) -> None:
        """A dataValueSet's ``completeDate`` registers its data set as complete, as DHIS2 does; one
        DHIS2 cannot read fails the import (its values stand) and registers nothing."""
        if context.data_set is None or context.org_unit is None or context.period is None:
            return
        try:
            completeness.check_date(complete_date)
        except Conflict as exc:
            self.summary.fail(exc.detail)
            return
        registration = completeness.Registration(
            data_set=context.data_set.uid,
            period=context.period,
            org_unit=context.org_unit[0],
            attribute_option_combo=context.attribute_option_combo or default_aoc,
            date=complete_date,
            stored_by=self.options.client,
            completed=True,
        )
        if self.options.dry_run:
            self.summary.data_set_complete = complete_date
            return
        with self.db.session() as session:
            completeness.register(
                session,
                registrations=[registration],
                client=self.options.client,
                transaction_id=self.transaction_id,
            )
        self.summary.data_set_complete = complete_date


def _size(source: BinaryIO) -> int:
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    return size


def _shareable(db: Database) -> bool:
    """Whether another process can open ``db``: not an in-memory SQLite database."""
    return not (db.dialect == "sqlite" and db.engine.url.database in (None, "", ":memory:"))


def _chunks(values: Iterator[RawValue]) -> Iterator[list[tuple[int, RawValue]]]:
    numbered = enumerate(values)
    while chunk := list(islice(numbered, CHUNK)):
        yield chunk


def import_values(
    db: Database,
    *,
    source: BinaryIO,
    options: ImportOptions,
    transaction_id: int,
    targets: list[Dhis2Target],
    settings: Settings,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import the dataValueSet in ``source``. Takes the database, not a session: it commits per chunk."""
    summary = ImportSummary(dry_run=options.dry_run)
    importer = Importer(db, options, transaction_id, targets, settings, summary)
    importer.run(source, today=today or utcnow().date(), progress=progress)
    return summary


@dataclass(frozen=True, slots=True)
class Received:
    """The HTTP request as the transaction log records it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    size: int


def import_logged(
    db: Database,
    *,
    source: BinaryIO,
    options: ImportOptions,
    version: int,
    received: Received,
    targets: list[Dhis2Target],
    settings: Settings,
) -> tuple[ImportSummary, int]:
    """A synchronous import inside its transaction log entry; returns the summary and the entry's id."""
    transaction_id, started = log.open_entry(
        db, client=options.client, instance=settings.instance_name, **log_fields(source, received)
    )
    with log.failed_if_raising(db, transaction_id=transaction_id, started=started):
        summary = import_values(
            db,
            source=source,
            options=options,
            transaction_id=transaction_id,
            targets=targets,
            settings=settings,
        )
    status = summary.http_status(version)
    log.close_entry(
        db,
        transaction_id=transaction_id,
        started=started,
        status_code=status,
        body=summary.body(version),
        summary=summary,
    )
    return summary, transaction_id


def log_fields(source: BinaryIO, received: Received) -> dict[str, Any]:
    body = None
    if received.size <= log.STORED_BODY_BYTES:
        body = source.read()
        source.seek(0)
    return {"method": received.method, "path": received.path, "query": received.query,
            "headers": received.headers, "body": body, "size": received.size}  # fmt: skip
