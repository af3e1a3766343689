"""Waiting for DHIS2's asynchronous jobs (``async=true`` imports) and fetching their reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.dhis2.errors import JobFailed, JobTimeout
from adapters.dhis2.web_message import unwrap

if TYPE_CHECKING:
    from adapters.dhis2.client import Dhis2Client

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """A running DHIS2 job: where to poll its notifications and where its report appears."""

    id: str
    job_type: str
    status_path: str
    report_path: str

    @classmethod
    def from_web_message(cls, body: Any) -> Job:
        """The job in the reply to an ``async=true`` data value, metadata, completeness or legacy
        tracker import: ``{"response": {"id", "jobType", "relativeNotifierEndpoint"}}``."""
        payload, _ = unwrap(body) if isinstance(body, Mapping) else (None, None)
        if not isinstance(payload, Mapping) or not payload.get("id") or not payload.get("jobType"):
            raise ValueError("the response names no job")
        job_id, job_type = str(payload["id"]), str(payload["jobType"])
        status_path = payload.get("relativeNotifierEndpoint") or f"/api/system/tasks/{job_type}/{job_id}"
        return cls(job_id, job_type, status_path, f"/api/system/taskSummaries/{job_type}/{job_id}")

    @classmethod
    def tracker(cls, body: Any) -> Job:
        """The job in the reply to an asynchronous ``POST /api/tracker`` (``"Tracker job added"``)."""
        payload, _ = unwrap(body) if isinstance(body, Mapping) else (None, None)
        if not isinstance(payload, Mapping) or not payload.get("id"):
            raise ValueError("the response names no tracker job")
        job_id = str(payload["id"])
        # The reply's "location" is an absolute URL built from the server's idea of its own
        # host, which behind a proxy is often wrong: the path is rebuilt from the id instead.
        status_path = f"/api/tracker/jobs/{job_id}"
        return cls(job_id, "TRACKER_IMPORT_JOB", status_path, f"{status_path}/report")


def wait(client: Dhis2Client, job: Job, parse: Callable[[Any, int], T]) -> T:
    """Poll ``job`` until DHIS2 marks it completed, then fetch and parse its report."""
    deadline = time.monotonic() + client.config.job_timeout
    url = client.http.url_for(job.status_path)
    while (last := _completion(client.body(client.send("GET", job.status_path)))) is None:
        if time.monotonic() >= deadline:
            raise JobTimeout(
                "dhis2",
                "GET",
                url,
                reason=f"{job.job_type} job {job.id} unfinished after {client.config.job_timeout:.0f}s",
            )
        client.sleep(client.config.poll_interval)
    response = client.send("GET", job.report_path)
    if not response.content:
        raise JobFailed(
            "dhis2",
            "GET",
            client.http.url_for(job.report_path),
            reason=f"{job.job_type} job {job.id} left no report: {last.get('level')} {last.get('message')}",
        )
    return client.parse(response, parse)


def _completion(notifications: Any) -> Mapping[str, Any] | None:
    """The notification that marks the job completed, if there is one yet. DHIS2 lists the
    newest first; an empty list means the job has not started."""
    if not isinstance(notifications, Sequence) or isinstance(notifications, str):
        return None
    return next((n for n in notifications if isinstance(n, Mapping) and n.get("completed")), None)
