"""DHIS2 Web API client (version-aware: 2.29 to 2.42)."""

from adapters.common.errors import AdapterError
from adapters.dhis2.client import Dhis2Client
from adapters.dhis2.config import Dhis2Config
from adapters.dhis2.deleted_objects import DeletedObject
from adapters.dhis2.errors import Dhis2Error, JobFailed, JobTimeout, UnsupportedByVersion
from adapters.dhis2.id_schemes import IdSchemes
from adapters.dhis2.import_report import ErrorReport, ImportReport, ReportStatus, Stats
from adapters.dhis2.import_summary import Conflict, ImportCount, ImportStatus, ImportSummary
from adapters.dhis2.tracker_report import TrackerError, TrackerImportReport
from adapters.dhis2.version import Dhis2Version

__all__ = [
    "AdapterError",
    "Conflict",
    "DeletedObject",
    "Dhis2Client",
    "Dhis2Config",
    "Dhis2Error",
    "Dhis2Version",
    "ErrorReport",
    "IdSchemes",
    "ImportCount",
    "ImportReport",
    "ImportStatus",
    "ImportSummary",
    "JobFailed",
    "JobTimeout",
    "ReportStatus",
    "Stats",
    "TrackerError",
    "TrackerImportReport",
    "UnsupportedByVersion",
]
