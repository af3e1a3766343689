"""The real third-party DHIS2 clients from PyPI, pointed at the hub, reading metadata."""

from __future__ import annotations

from typing import Any

import pytest
from dhis2 import Api
from dhis2_client import DHIS2Client
from dhis2_client.errors import DHIS2HTTPError

from tests.dhis2.metadata.conftest import CLIENT


def test_dhis2_py_reads_pages_and_system_info(dhis2_hub: Any) -> None:
    api = Api(dhis2_hub.url, *CLIENT)

    assert api.version == "2.40.3"
    level_four = api.get("organisationUnits", params={"filter": "level:eq:4", "fields": "id,name"}).json()
    assert [o["name"] for o in level_four["organisationUnits"]] == ["Ngelehun CHC", "Njandama MCHP"]
    pages = list(api.get_paged("dataElements", params={"fields": "id"}, page_size=40))
    assert [len(p["dataElements"]) for p in pages] == [40, 40, 4]
    assert len({d["id"] for p in pages for d in p["dataElements"]}) == 84


def test_dhis2_py_pinned_to_api_31_sees_legacy_coordinates(dhis2_hub: Any) -> None:
    api = Api(dhis2_hub.url, *CLIENT, api_version=31)
    org_unit = api.get("organisationUnits/DiszpKrYNg8").json()
    assert org_unit["featureType"] == "POINT"


def test_dhis2_client_lists_gets_and_raises_on_errors(dhis2_hub: Any) -> None:
    client = DHIS2Client(dhis2_hub.url, username=CLIENT[0], password=CLIENT[1], default_page_size=2)
    try:
        assert client.get_system_info()["version"] == "2.40.3"
        assert client.get_current_user()["username"] == CLIENT[0]
        org_units = list(client.get_organisation_units(fields="id,name"))
        assert len(org_units) == 5
        data_set = client.get_data_set("VEM58nY22sO", fields="id,periodType,openFuturePeriods")
        assert data_set == {"id": "VEM58nY22sO", "periodType": "Monthly", "openFuturePeriods": 12}
        elements = client.fetch_all("/api/dataElements", params={"filter": "valueType:eq:BOOLEAN"})
        assert {e["id"] for e in elements} >= {"vbZ5LGNfGET"}
        with pytest.raises(DHIS2HTTPError, match="could not be found") as raised:
            client.get_org_unit("NotThere001")
        assert raised.value.status_code == 404
    finally:
        client.close()
