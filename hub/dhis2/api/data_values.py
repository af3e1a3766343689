"""DHIS2-compatible data value routes: ``/api[/NN]/dataValueSets[.json|.xml|.csv|.adx]``,
``/api/dataValues``, ``/api/completeDataSetRegistrations`` and the async import's
``/api/system/tasks|taskSummaries/DATAVALUE_IMPORT/<id>``. Routers parse, call and translate."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, BinaryIO

import orjson
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from hub.api.deps import RuntimeDep, SessionDep
from hub.auth.principal import Principal
from hub.db.base import utcnow
from hub.dhis2.api.common import (
    ApiVersionDep,
    Dhis2ConfigDep,
    Dhis2DataClientDep,
    ResponseFormatDep,
    api_path,
    dhis2_router,
    web_message,
)
from hub.dhis2.config import load
from hub.dhis2.datavalues import completeness, export, service, tasks
from hub.dhis2.datavalues.parsers import format_of
from hub.dhis2.datavalues.service import ImportOptions, Received
from hub.errors import BadRequest
from hub.periodic import repeat, stop
from hub.runtime import Runtime

SPOOL_IN_MEMORY = 4 * 1024 * 1024
JOB_NAME = "dataValueImport"


@asynccontextmanager
async def _resume_jobs(app: FastAPI) -> AsyncIterator[None]:
    """Async imports whose hub process stopped start again here: at start-up, those of this
    instance's earlier incarnation (a crash or restart); then, every heartbeat, those of replicas
    whose heartbeat stopped."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    config = load(settings.config)

    def resume(at_start: bool) -> None:
        tasks.resume_orphaned(runtime.db, targets=config.targets, settings=settings, at_start=at_start)

    await to_thread.run_sync(resume, True)
    interval = settings.instance_heartbeat_s
    watch = asyncio.create_task(
        repeat(lambda: resume(False), interval, log=tasks.logger, what="async import take-over", now=False)
    )
    try:
        yield
    finally:
        await stop(watch)


router = dhis2_router(tags=["DHIS2 data values"], lifespan=_resume_jobs)


async def _spool(request: Request) -> tuple[BinaryIO, int]:
    """The body in a temporary file (in memory while small): never held whole however big it is."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the caller
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool, size  # type: ignore[return-value]


def _received(request: Request, size: int) -> Received:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return Received(request.method, request.url.path, request.url.query, headers, size)


@router.post(api_path("/dataValueSets"))
async def post_data_value_sets(
    request: Request,
    runtime: RuntimeDep,
    config: Dhis2ConfigDep,
    client: Dhis2DataClientDep,
    version: ApiVersionDep,
) -> JSONResponse:
    """Import a dataValueSet (JSON, XML, CSV or ADX); ``async=true`` answers at once with a job."""
    fmt = format_of(request.headers.get("content-type"), request.path_params.get("format"))
    params = dict(request.query_params)
    options = ImportOptions(  # checks them
        fmt=fmt, params=params, client=client.name, roots=client.org_units, roles=tuple(sorted(client.roles))
    )
    source, size = await _spool(request)
    kwargs: dict[str, Any] = {"source": source, "options": options, "version": version,
                              "received": _received(request, size), "targets": config.targets,
                              "settings": runtime.settings}  # fmt: skip
    with source:
        if params.get("async", "false").lower() == "true":
            job_id = await to_thread.run_sync(lambda: tasks.submit_logged(runtime.db, **kwargs))
            return JSONResponse(_job_started(job_id))
        summary, transaction_id = await to_thread.run_sync(
            lambda: service.import_logged(runtime.db, **kwargs)
        )
    return JSONResponse(
        summary.body(version),
        status_code=summary.http_status(version),
        headers={"x-hub-transaction-id": str(transaction_id)},
    )


def _job_started(job_id: str) -> dict[str, Any]:
    response = {
        "name": JOB_NAME,
        "id": job_id,
        "created": utcnow().isoformat(),
        "jobType": tasks.JOB_TYPE,
        "relativeNotifierEndpoint": f"/api/system/tasks/{tasks.JOB_TYPE}/{job_id}",
    }
    return web_message(200, f"Initiated {JOB_NAME}", response=response)


@router.get(api_path(f"/system/tasks/{tasks.JOB_TYPE}/{{job_id:dhis2_id}}"))
def task_notifications(job_id: str, session: SessionDep, client: Dhis2DataClientDep) -> list[dict[str, Any]]:
    """The job's progress notifications, newest first."""
    return tasks.get(session, job_id=job_id, client=client.name).notifications


@router.get(api_path(f"/system/taskSummaries/{tasks.JOB_TYPE}/{{job_id:dhis2_id}}"))
def task_summary(job_id: str, session: SessionDep, client: Dhis2DataClientDep) -> dict[str, Any]:
    """The job's final ImportSummary (empty while it runs, as DHIS2 answers)."""
    return tasks.get(session, job_id=job_id, client=client.name).summary or {}


def _text(request: Request, name: str) -> str | None:
    """A parameter that is searched for: the export streams, so PostgreSQL's refusal of a NUL
    character would come after the answer began, as a broken response."""
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        raise BadRequest(f"{name} must not contain a NUL character")
    return value


def _list(request: Request, name: str) -> list[str]:
    values = [v for item in request.query_params.getlist(name) for v in item.split(",") if v]
    if any("\x00" in v for v in values):
        raise BadRequest(f"{name} must not contain a NUL character")
    return values


def _date(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError as exc:
        raise BadRequest(f"{name} must be a date (yyyy-MM-dd), not {value!r}") from exc


def _day_start(request: Request, name: str) -> datetime | None:
    """The start of the day ``name`` gives, in the server's time zone, as DHIS2 reads it."""
    day = _date(request, name)
    try:
        return datetime.combine(day, datetime.min.time()).astimezone() if day else None
    except (ValueError, OverflowError) as exc:  # the first day of year 1, east of UTC: year 0
        raise BadRequest(f"{name} is out of range: {day}") from exc


def _query(request: Request, client: Principal) -> export.Query:
    return export.Query(
        data_sets=_list(request, "dataSet"),
        data_elements=_list(request, "dataElement"),
        periods=_list(request, "period"),
        start_date=_date(request, "startDate"),
        end_date=_date(request, "endDate"),
        org_units=_list(request, "orgUnit"),
        children=request.query_params.get("children", "false").lower() == "true",
        include_deleted=request.query_params.get("includeDeleted", "false").lower() == "true",
        last_updated=_day_start(request, "lastUpdated"),
        attribute_option_combo=_text(request, "attributeOptionCombo"),
        roots=client.org_units,
    )


@router.get(api_path("/dataValueSets"))
async def get_data_value_sets(
    request: Request, runtime: RuntimeDep, client: Dhis2DataClientDep, fmt: ResponseFormatDep
) -> StreamingResponse:
    """Values from the hub's store inside the client's hierarchy, streamed in the format the suffix
    or ``Accept`` asks for."""
    query = _query(request, client)
    await to_thread.run_sync(export.check, runtime.db, query)
    accept = request.headers.get("accept", "")
    if fmt == "json" and not request.path_params.get("format"):
        fmt = "xml" if "xml" in accept else "csv" if "csv" in accept else "json"
    writer, media = {
        "xml": (export.as_xml, "application/xml"),
        "csv": (export.as_csv, "application/csv"),
    }.get(fmt, (export.as_json, "application/json"))
    return StreamingResponse(writer(runtime.db, query), media_type=media)


@router.get(api_path("/dataValues"))
def get_data_value(request: Request, session: SessionDep, client: Dhis2DataClientDep) -> JSONResponse:
    """One value inside the client's hierarchy, as DHIS2 answers it: a list holding the value."""
    params = request.query_params
    missing = [p for p in ("de", "pe", "ou") if not params.get(p)]
    if missing:
        raise BadRequest(f"missing required parameter(s): {', '.join(missing)}")
    default = "HllvX50cXC0"
    key = (params["ou"], params["pe"], params["de"], params.get("co") or default, params.get("cc") or default)
    value = export.single(session, key=key, roots=client.org_units)
    return JSONResponse([value.value])


@router.post(api_path("/completeDataSetRegistrations"))
async def post_complete_registrations(
    request: Request,
    runtime: RuntimeDep,
    config: Dhis2ConfigDep,
    client: Dhis2DataClientDep,
    version: ApiVersionDep,
) -> JSONResponse:
    """Register data sets complete (JSON); stored and queued to every DHIS2 target."""
    try:
        document = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from exc
    summary = await to_thread.run_sync(
        lambda: completeness.import_registrations(
            runtime.db, document=document, params=dict(request.query_params), client=client,
            targets=config.targets, settings=runtime.settings,
        )
    )  # fmt: skip
    return JSONResponse(summary.body(version), status_code=summary.http_status(version))
