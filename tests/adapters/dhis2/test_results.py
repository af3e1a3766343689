"""Parsing DHIS2's result shapes directly, including the rare ones."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.dhis2 import ImportReport, ImportStatus, ImportSummary, ReportStatus, TrackerImportReport
from tests.adapters.dhis2.wire import XML_SUMMARY, conflict, import_summary

XML_SUMMARIES = f"""<importSummaries xmlns="http://dhis2.org/schema/dxf/2.0">
  {XML_SUMMARY.split("?>", 1)[1]}
  <importSummary responseType="ImportSummary"><status>SUCCESS</status>
    <importCount imported="5" updated="1" ignored="0" deleted="0"/></importSummary>
</importSummaries>"""


def test_xml_import_summaries_are_added_up() -> None:
    summary = ImportSummary.from_body(XML_SUMMARIES)

    assert summary.status is ImportStatus.WARNING
    assert (summary.import_count.imported, summary.import_count.updated, summary.import_count.ignored) == (
        15,
        1,
        2,
    )
    assert len(summary.conflicts) == 1


@pytest.mark.parametrize(
    ("parser", "body"),
    [
        (ImportSummary.from_body, "<html>Bad gateway</html"),
        (ImportSummary.from_body, "<webMessage><status>OK</status></webMessage>"),
        (ImportSummary.from_body, ["not", "an", "object"]),
        (ImportSummary.from_body, {"httpStatusCode": 200, "response": {"jobType": "DATAVALUE_IMPORT"}}),
        (ImportReport.from_body, {"status": "OK"}),
        (ImportReport.from_body, None),
        (TrackerImportReport.from_body, {"httpStatusCode": 200, "response": None}),
        (lambda body, status: TrackerImportReport.from_legacy("EVENT", body, status), {"status": "OK"}),
    ],
    ids=[
        "broken-xml",
        "other-xml",
        "list",
        "job-not-summary",
        "report-without-stats",
        "empty-report",
        "empty-tracker",
        "legacy-without-summaries",
    ],
)
def test_bodies_that_are_not_results(parser: Any, body: Any) -> None:
    with pytest.raises(ValueError):
        parser(body, 200)


@pytest.mark.parametrize(
    ("status", "ignored", "rejected", "ok"),
    [("SUCCESS", 0, [], True), ("WARNING", 0, [], True), ("WARNING", 1, [3], False), ("ERROR", 0, [], False)],
    ids=["success", "warning-nothing-lost", "warning-ignored", "error"],
)
def test_ok_means_nothing_was_lost(status: str, ignored: int, rejected: list[int], ok: bool) -> None:
    body = import_summary(
        "2.41.1",
        status,
        imported=3,
        ignored=ignored,
        rejected=rejected,
        conflicts=[conflict("2.41.1", indexes=rejected)] if rejected else None,
    )
    assert ImportSummary.from_body(body).ok is ok


def test_combining_nothing_is_an_empty_success() -> None:
    assert ImportSummary.combine([]).status is ImportStatus.SUCCESS
    assert TrackerImportReport.combine([]).status is ReportStatus.OK
