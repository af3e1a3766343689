"""DHIS2 reply bodies as each release sends them (dhis2-core's WebMessageUtils, ImportSummary,
ImportReport, the tracker ImportReport and the job notifications), for the mocked transport."""

from __future__ import annotations

from typing import Any

from adapters.dhis2.version import Dhis2Version

BASE = "https://dhis.example.org/dhis"
VERSIONS = ["2.29", "2.36.13", "2.38.4.3", "2.40.3", "2.41.1", "2.42.0"]

OK_MESSAGE = "Import was successful."
_CONFLICT_MESSAGES = {
    "WARNING": "One more conflicts encountered, please check import summary.",
    "ERROR": "An error occurred, please check import summary.",
}


def at_least(version: str, than: str) -> bool:
    return Dhis2Version.parse(version) >= than


def system_info(version: str) -> dict[str, Any]:
    return {
        "contextPath": BASE,
        "userAgent": "python-requests/2.32",
        "calendar": "iso8601",
        "dateFormat": "yyyy-mm-dd",
        "serverDate": "2024-03-15T10:11:12.345",
        "serverTimeZoneId": "Etc/UTC",
        "version": version,
        "revision": "f8a2c3d",
        "buildTime": "2024-02-29T08:00:00.000",
        "jasperReportsVersion": "6.20.1",
        "environmentVariable": "DHIS2_HOME",
        "readOnlyMode": "off",
        "systemId": "eed3d451-4ff5-4193-b951-ffcc68954299",
        "systemName": "DHIS 2 Demo - Sierra Leone",
        "isMetadataVersionEnabled": True,
    }


def web_message(response: Any, status: str) -> tuple[int, dict[str, Any]]:
    """``WebMessageUtils.importSummary``: 200 for SUCCESS/OK, 409 for WARNING and ERROR."""
    if status in ("SUCCESS", "OK"):
        return 200, {
            "httpStatus": "OK",
            "httpStatusCode": 200,
            "status": "OK",
            "message": OK_MESSAGE,
            "response": response,
        }
    return 409, {
        "httpStatus": "Conflict",
        "httpStatusCode": 409,
        "status": status,
        "message": _CONFLICT_MESSAGES[status],
        "response": response,
    }


# -- aggregate ------------------------------------------------------------------------------------


def conflict(version: str, org_unit: str = "DiszpKrYNg8", indexes: list[int] | None = None) -> dict[str, Any]:
    message = f"Organisation unit not in hierarchy of current user: `{org_unit}`"
    plain: dict[str, Any] = {"object": org_unit, "value": message}
    if not at_least(version, "2.37"):
        return plain
    return {
        **plain,
        "objects": {"organisationUnit": org_unit},
        "errorCode": "E7617",
        "property": "orgUnit",
        "indexes": indexes if indexes is not None else [0],
    }


def import_summary(
    version: str,
    status: str = "SUCCESS",
    *,
    imported: int = 0,
    updated: int = 0,
    ignored: int = 0,
    deleted: int = 0,
    conflicts: list[dict[str, Any]] | None = None,
    rejected: list[int] | None = None,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "responseType": "ImportSummary",
        "status": status,
        "importOptions": {
            "idSchemes": {},
            "dryRun": False,
            "async": False,
            "importStrategy": "CREATE_AND_UPDATE",
            "mergeMode": "REPLACE",
            "skipExistingCheck": False,
            "firstRowIsHeader": True,
        },
        "description": "Import process completed successfully",
        "importCount": {"imported": imported, "updated": updated, "ignored": ignored, "deleted": deleted},
        "conflicts": conflicts or [],
        "dataSetComplete": "false",
    }
    if at_least(version, "2.41"):
        summary["rejectedIndexes"] = rejected or []
    return summary


def data_value_reply(version: str, status: str = "SUCCESS", **counts: Any) -> tuple[int, dict[str, Any]]:
    """The reply to ``POST /api/dataValueSets``: plain before 2.38, a WebMessage from 2.38."""
    summary = import_summary(version, status, **counts)
    if not at_least(version, "2.38"):
        return 200, summary
    return web_message(summary, status)


XML_SUMMARY = """<?xml version='1.0' encoding='UTF-8'?>
<importSummary xmlns="http://dhis2.org/schema/dxf/2.0" responseType="ImportSummary">
  <status>WARNING</status>
  <description>Import process completed successfully</description>
  <importCount imported="10" updated="0" ignored="2" deleted="0"/>
  <conflicts>
    <conflict object="BdfsJfj87js" value="Organisation unit not found or not accessible"/>
  </conflicts>
  <dataSetComplete>false</dataSetComplete>
</importSummary>"""


# -- jobs -----------------------------------------------------------------------------------------


def job_started(job_type: str, job_id: str) -> dict[str, Any]:
    return {
        "httpStatus": "OK",
        "httpStatusCode": 200,
        "status": "OK",
        "message": f"Initiated {job_type}",
        "response": {
            "responseType": "JobConfigurationWebMessageResponse",
            "name": job_type,
            "id": job_id,
            "created": "2024-03-15T10:11:12.345",
            "jobType": job_type,
            "jobStatus": "SCHEDULED",
            "relativeNotifierEndpoint": f"/api/system/tasks/{job_type}/{job_id}",
        },
    }


def notifications(job_type: str, completed: bool, level: str = "INFO") -> list[dict[str, Any]]:
    """Newest first, as ``GET /api/system/tasks/{type}/{id}`` and ``/api/tracker/jobs/{id}`` list them."""
    started = {
        "uid": "Cwk9nxBkZtq",
        "level": "INFO",
        "category": job_type,
        "time": "2024-03-15T10:11:12.400",
        "message": "Process started",
        "completed": False,
    }
    if not completed:
        return [started]
    done = {**started, "uid": "WvZLzGPQ2nx", "level": level, "message": "Import done", "completed": True}
    return [done, started]


def tracker_job_added(job_id: str) -> dict[str, Any]:
    return {
        "httpStatus": "OK",
        "httpStatusCode": 200,
        "status": "OK",
        "message": "Tracker job added",
        "response": {
            "responseType": "TrackerJob",
            "id": job_id,
            # Built from the server's own idea of its host: behind a proxy it is not ours.
            "location": f"http://localhost:8080/api/tracker/jobs/{job_id}",
        },
    }


# -- tracker --------------------------------------------------------------------------------------


def stats(created: int = 0, updated: int = 0, deleted: int = 0, ignored: int = 0) -> dict[str, int]:
    return {
        "created": created,
        "updated": updated,
        "deleted": deleted,
        "ignored": ignored,
        "total": created + updated + deleted + ignored,
    }


def tracker_report(status: str = "OK", errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The synchronous ``/api/tracker`` reply (also the job report), after DHIS2's docs example."""
    if status == "ERROR":
        return {
            "status": "ERROR",
            "validationReport": {"errorReports": errors or [], "warningReports": []},
            "stats": stats(ignored=7),
        }
    return {
        "status": status,
        "validationReport": {"errorReports": [], "warningReports": []},
        "stats": stats(created=7),
        "bundleReport": {
            "status": "OK",
            "typeReportMap": {
                "TRACKED_ENTITY": {
                    "trackerType": "TRACKED_ENTITY",
                    "stats": stats(created=2),
                    "objectReports": [
                        {
                            "trackerType": "TRACKED_ENTITY",
                            "uid": "Kj6vYde4LHh",
                            "index": 0,
                            "errorReports": [],
                        },
                        {
                            "trackerType": "TRACKED_ENTITY",
                            "uid": "Nav6inZRw1u",
                            "index": 1,
                            "errorReports": [],
                        },
                    ],
                },
                "ENROLLMENT": {"trackerType": "ENROLLMENT", "stats": stats(created=2), "objectReports": []},
                "EVENT": {"trackerType": "EVENT", "stats": stats(created=3), "objectReports": []},
                "RELATIONSHIP": {"trackerType": "RELATIONSHIP", "stats": stats(), "objectReports": []},
            },
            "stats": stats(created=7),
        },
    }


TRACKER_ERROR = {
    "message": "Could not find OrganisationUnit: `O6uvpzGd5pu`, linked to TrackedEntity.",
    "errorCode": "E1049",
    "trackerType": "TRACKED_ENTITY",
    "uid": "Kj6vYde4LHh",
}


def legacy_summaries(
    references: list[str], conflicts: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """A legacy tracker endpoint's reply: ImportSummaries in a WebMessage (409 when any was ignored)."""
    conflicts = conflicts or {}
    summaries = [
        {
            "responseType": "ImportSummary",
            "status": "ERROR" if ref in conflicts else "SUCCESS",
            "importCount": {
                "imported": 0 if ref in conflicts else 1,
                "updated": 0,
                "ignored": int(ref in conflicts),
                "deleted": 0,
            },
            "conflicts": [{"object": ref, "value": conflicts[ref]}] if ref in conflicts else [],
            "reference": ref,
        }
        for ref in references
    ]
    ignored = len(conflicts)
    body = {
        "responseType": "ImportSummaries",
        "status": "WARNING" if ignored else "SUCCESS",
        "imported": len(references) - ignored,
        "updated": 0,
        "deleted": 0,
        "ignored": ignored,
        "importSummaries": summaries,
        "total": len(references),
    }
    return web_message(body, "WARNING" if ignored else "OK")


# -- metadata -------------------------------------------------------------------------------------

METADATA_ERROR = {
    "message": "Missing required property `shortName`.",
    "mainKlass": "org.hisp.dhis.dataelement.DataElement",
    "errorKlass": "java.lang.String",
    "errorProperty": "shortName",
    "errorCode": "E4000",
}


def metadata_report(
    version: str, status: str = "OK", created: int = 0, updated: int = 0
) -> tuple[int, dict[str, Any]]:
    """The reply to ``POST /api/metadata``: the plain ImportReport before 2.38, wrapped from 2.38
    (``WebMessageUtils.importReport``: 409 and status WARNING when the report is not OK)."""
    errors = [METADATA_ERROR] if status == "ERROR" else []
    report: dict[str, Any] = {
        "status": status,
        "stats": stats(created=created, updated=updated, ignored=len(errors)),
        "typeReports": [
            {
                "klass": "org.hisp.dhis.dataelement.DataElement",
                "stats": stats(created=created, updated=updated, ignored=len(errors)),
                "objectReports": [
                    {
                        "klass": "org.hisp.dhis.dataelement.DataElement",
                        "index": 3,
                        "uid": "tpz77FcntKx",
                        "errorReports": errors,
                    }
                ]
                if errors
                else [],
            }
        ],
    }
    if not at_least(version, "2.38"):
        return 200, {"importParams": {"importMode": "COMMIT", "identifier": "UID"}, **report}
    wrapped = {**report, "responseType": "ImportReport"}
    if status == "OK":
        return 200, {"httpStatus": "OK", "httpStatusCode": 200, "status": "OK", "response": wrapped}
    return 409, {
        "httpStatus": "Conflict",
        "httpStatusCode": 409,
        "status": "WARNING",
        "message": "One more more errors occurred, please see full details in import report.",
        "response": wrapped,
    }
