"""The real third-party clients, pointed at the hub: they post dataValueSets and read them back."""

from __future__ import annotations

from typing import Any

import pytest
from dhis2 import Api
from dhis2_client import DHIS2Client

from tests.dhis2.datavalues.conftest import CLIENT

VALUES = [
    {"dataElement": "BjDrgVrkBI3", "period": "201911", "orgUnit": "O6uvpzGd5pu", "categoryOptionCombo": coc,
     "attributeOptionCombo": "HllvX50cXC0", "value": value}
    for coc, value in (("oPcWGgS2Liz", "1000"), ("rtfSaMjPyq6", "2000"))
]  # fmt: skip
QUERY = {"dataSet": "VEM58nY22sO", "period": "201911", "orgUnit": "O6uvpzGd5pu"}


def test_dhis2_client_posts_and_reads_back(dhis2_hub: Any) -> None:
    client = DHIS2Client(dhis2_hub.url, username=CLIENT[0], password=CLIENT[1])
    try:
        answer = client.post_data_value_set({"dataSet": "VEM58nY22sO", "dataValues": VALUES})
        assert answer["status"] == "OK"
        assert answer["response"]["importCount"]["imported"] == 2
        read = client.get_data_value_set(QUERY)
        assert sorted(v["value"] for v in read["dataValues"]) == ["1000", "2000"]
        single = client.get_data_value("BjDrgVrkBI3", "201911", "O6uvpzGd5pu", co="rtfSaMjPyq6")
        assert single == ["2000"]
    finally:
        client.close()


@pytest.mark.parametrize("api_version", [30, 37])
def test_dhis2_py_posts_and_reads_back_the_plain_summary(dhis2_hub: Any, api_version: int) -> None:
    api = Api(dhis2_hub.url, CLIENT[0], CLIENT[1], api_version=api_version)
    summary = api.post("dataValueSets", json={"dataValues": VALUES}).json()
    assert (summary["responseType"], summary["status"]) == ("ImportSummary", "SUCCESS")
    assert summary["importCount"]["imported"] + summary["importCount"]["updated"] == 2
    read = api.get("dataValueSets", params=QUERY).json()
    assert {v["categoryOptionCombo"] for v in read["dataValues"]} == {"oPcWGgS2Liz", "rtfSaMjPyq6"}
