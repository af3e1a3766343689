"""``async=true`` imports: DHIS2's job, task notifications and task summary, backed by the DB.

The payload is stored in the DB in pieces before the client is answered, then imported by a
background thread of the hub process that took it (the job records its instance name). A job
whose process stopped is run again (a rerun only rewrites the same values): at start-up, its own
earlier incarnation's jobs; while serving, those of replicas whose heartbeat stopped
(``hub.instances``' rule). A live replica's jobs are never taken. Notifications follow
``/api/system/tasks/DATAVALUE_IMPORT/<id>`` (newest first); the final ImportSummary is the
job's ``/api/system/taskSummaries``.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.db.session import Database
from hub.dhis2.config import Dhis2Target
from hub.dhis2.datavalues import log, service
from hub.dhis2.datavalues.models import ImportJob, ImportPayloadChunk
from hub.dhis2.datavalues.service import ImportOptions
from hub.dhis2.datavalues.summary import ImportSummary
from hub.dhis2.uids import new_uid
from hub.errors import NotFound
from hub.instances.service import Orphans
from hub.settings import Settings

JOB_TYPE = "DATAVALUE_IMPORT"
PIECE_BYTES = 1024 * 1024
UNFINISHED = ("SCHEDULED", "RUNNING")

logger = logging.getLogger("hub.dhis2.datavalues")


def _notification(message: str, *, completed: bool = False, level: str = "INFO") -> dict[str, Any]:
    return {"uid": new_uid(), "level": level, "category": JOB_TYPE, "time": utcnow().isoformat(),
            "message": message, "completed": completed}  # fmt: skip


def submit(
    session: Session,
    *,
    source: BinaryIO,
    options: ImportOptions,
    version: int,
    transaction_id: int,
    started: datetime,
    instance: str,
) -> str:
    """Store the job, run by the hub process ``instance``, and its payload (the caller commits
    before answering); returns the job id."""
    job_id = new_uid()
    request = {
        "fmt": options.fmt,
        "params": options.params,
        "client": options.client,
        "roots": list(options.roots),
        "roles": list(options.roles),
        "version": version,
        "transaction_id": transaction_id,
        "started": started.isoformat(),
    }
    note = _notification("Import job scheduled")
    session.add(
        ImportJob(
            id=job_id,
            job_type=JOB_TYPE,
            status="SCHEDULED",
            client_id=options.client,
            request=request,
            notifications=[note],
            instance=instance,
        )
    )
    session.flush()
    seq = 0
    while piece := source.read(PIECE_BYTES):
        session.execute(insert(ImportPayloadChunk), {"job_id": job_id, "seq": seq, "data": piece})
        seq += 1
    return job_id


def _payload(db: Database, job_id: str) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=PIECE_BYTES * 8)  # noqa: SIM115 - handed to the caller
    with db.session() as session:
        query = select(ImportPayloadChunk.data).where(ImportPayloadChunk.job_id == job_id)
        for data in session.scalars(query.order_by(ImportPayloadChunk.seq).execution_options(yield_per=4)):
            spool.write(data)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _notify(db: Database, job_id: str, note: dict[str, Any], **values: Any) -> None:
    with db.session() as session:
        job = session.get(ImportJob, job_id, with_for_update=True)
        if job is not None:
            job.notifications = [note, *job.notifications]
            for key, value in values.items():
                setattr(job, key, value)


def run(db: Database, *, job_id: str, targets: list[Dhis2Target], settings: Settings) -> ImportSummary:
    """Import a stored job's payload, recording progress, the summary and the transaction's outcome."""
    with db.session() as session:
        job = session.get(ImportJob, job_id)
        if job is None:
            raise NotFound(f"no {JOB_TYPE} job {job_id}")
        request = dict(job.request)
    options = ImportOptions(
        request["fmt"], request["params"], request["client"], tuple(request["roots"]),
        tuple(request.get("roles", ())),  # jobs stored before roles were kept have none
    )  # fmt: skip
    _notify(db, job_id, _notification("Importing data values"), status="RUNNING")

    def progress(done: int) -> None:
        _notify(db, job_id, _notification(f"Imported {done} data values"))

    with _payload(db, job_id) as source:
        summary = service.import_values(
            db, source=source, options=options, transaction_id=request["transaction_id"], targets=targets,
            settings=settings, progress=progress,
        )  # fmt: skip
    version = request["version"]
    body = summary.summary_body(version)
    message = f"Import complete with status {summary.status}, {summary.count.as_dict()}"
    _notify(db, job_id, _notification(message, completed=True), status="COMPLETED", summary=body,
            finished_at=utcnow())  # fmt: skip
    log.close_entry(
        db, transaction_id=request["transaction_id"], started=datetime.fromisoformat(request["started"]),
        status_code=summary.http_status(version), body=summary.body(version), summary=summary,
    )  # fmt: skip
    return summary


def start(db: Database, *, job_id: str, targets: list[Dhis2Target], settings: Settings) -> threading.Thread:
    """Run the job in a background thread; failures are logged and recorded on the job."""

    def work() -> None:
        try:
            run(db, job_id=job_id, targets=targets, settings=settings)
        except Exception:
            logger.exception("data value import job failed", extra={"job": job_id})
            failed = _notification("Import failed", completed=True, level="ERROR")
            _notify(db, job_id, failed, status="FAILED", finished_at=utcnow())

    thread = threading.Thread(target=work, name=f"dhis2-import-{job_id}", daemon=True)
    thread.start()
    return thread


def resume_orphaned(
    db: Database, *, targets: list[Dhis2Target], settings: Settings, at_start: bool
) -> list[str]:
    """Take over and start again the unfinished jobs no live hub process runs (``Orphans``); their
    ids. Locked as they are claimed, so two replicas never both take one."""
    with db.session() as session:
        orphaned = Orphans.now(session, settings, at_start=at_start).condition(ImportJob.instance)
        query = select(ImportJob.id).where(ImportJob.status.in_(UNFINISHED), orphaned)
        ids = list(session.scalars(query.with_for_update(skip_locked=True)))
        if ids:
            claim = {"status": "SCHEDULED", "instance": settings.instance_name}
            session.execute(update(ImportJob).where(ImportJob.id.in_(ids)).values(**claim))
    for job_id in ids:
        start(db, job_id=job_id, targets=targets, settings=settings)
    if ids:
        logger.warning("async import jobs of a stopped hub process started again", extra={"count": len(ids)})
    return ids


def get(session: Session, *, job_id: str, client: str) -> ImportJob:
    """The job, if this client submitted it (another client's job is as good as absent)."""
    job = session.get(ImportJob, job_id)
    if job is None or job.client_id != client:
        raise NotFound(f"no {JOB_TYPE} job {job_id}")
    return job


def submit_logged(
    db: Database,
    *,
    source: BinaryIO,
    options: ImportOptions,
    version: int,
    received: service.Received,
    targets: list[Dhis2Target],
    settings: Settings,
) -> str:
    """An ``async=true`` import: log it, store the job and payload durably, start it; returns the job id."""
    transaction_id, started = log.open_entry(
        db, client=options.client, instance=settings.instance_name, **service.log_fields(source, received)
    )
    with db.session() as session:
        job_id = submit(
            session,
            source=source,
            options=options,
            version=version,
            transaction_id=transaction_id,
            started=started,
            instance=settings.instance_name,
        )
    start(db, job_id=job_id, targets=targets, settings=settings)
    return job_id
