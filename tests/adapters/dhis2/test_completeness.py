"""POST /api/completeDataSetRegistrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses

from adapters.dhis2 import Dhis2Client, IdSchemes, ImportStatus
from tests.adapters.dhis2.conftest import sent
from tests.adapters.dhis2.wire import BASE, VERSIONS, at_least, data_value_reply, job_started, notifications

URL = f"{BASE}/api/completeDataSetRegistrations"
REGISTRATION = {
    "dataSet": "VEM58nY22sO",
    "period": "201911",
    "organisationUnit": "O6uvpzGd5pu",
    "attributeOptionCombo": "HllvX50cXC0",
    "date": "2019-12-05",
    "storedBy": "admin",
    "completed": True,
}


@pytest.mark.parametrize(
    "registrations",
    [REGISTRATION, [REGISTRATION], {"completeDataSetRegistrations": [REGISTRATION]}],
    ids=["one", "list", "body"],
)
@pytest.mark.parametrize("version", VERSIONS, ids=VERSIONS)
def test_registrations(
    version: str, registrations: Any, dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock
) -> None:
    status, body = data_value_reply(version, imported=1)
    rsps.post(URL, status=status, json=body)

    summary = dhis2(None).complete_data_set_registrations.post(
        registrations, id_schemes=IdSchemes(org_unit_id_scheme="uid"), dry_run=True
    )

    assert summary.status is ImportStatus.SUCCESS and summary.import_count.imported == 1
    assert summary.message == ("Import was successful." if at_least(version, "2.38") else None)
    [call] = sent(rsps)
    assert call.json() == {"completeDataSetRegistrations": [REGISTRATION]}
    assert call.params == {"orgUnitIdScheme": "uid", "dryRun": "true"}


def test_async_registrations(dhis2: Callable[..., Dhis2Client], rsps: responses.RequestsMock) -> None:
    job_type, job_id = "COMPLETE_DATA_SET_REGISTRATION_IMPORT", "Kbo1cxo2Fbd"
    rsps.post(URL, json=job_started(job_type, job_id))
    rsps.get(f"{BASE}/api/system/tasks/{job_type}/{job_id}", json=notifications(job_type, completed=True))
    rsps.get(
        f"{BASE}/api/system/taskSummaries/{job_type}/{job_id}", json=data_value_reply("2.29", imported=1)[1]
    )

    summary = dhis2(None).complete_data_set_registrations.post([REGISTRATION], async_=True)

    assert summary.import_count.imported == 1
    assert sent(rsps)[0].params == {"async": "true"}
