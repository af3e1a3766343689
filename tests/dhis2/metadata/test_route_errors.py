"""An error raised out of a DHIS2-compatible route: a WebMessage, and nothing the route wrote kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from hub.api.deps import SessionDep
from hub.db.session import Database
from hub.dhis2.api.common import Dhis2ClientDep, api_path, dhis2_router
from hub.dhis2.metadata.models import OptionSet
from hub.errors import Conflict
from tests.dhis2.metadata.conftest import CLIENT

UID = "rolledBack1"


def _writing_then_refusing() -> APIRouter:
    """A route that flushes a row, then refuses the request, as a write that meets a conflict
    halfway does."""
    router = dhis2_router()

    @router.post(api_path("/optionSets/halfway"))
    def write_then_refuse(session: SessionDep, _client: Dhis2ClientDep, count: int = 1) -> None:
        session.add(OptionSet(uid=UID, name="half-written", last_updated=datetime.now(UTC)))
        session.flush()
        raise Conflict("refused halfway", extra={"errorCode": "E5002"})

    return router


def test_an_error_out_of_a_dhis2_route_is_a_web_message_and_rolls_back_its_writes(
    dhis2_hub: Any, loaded: Database
) -> None:
    # ahead of the gateway's catch-all, as the app's own DHIS2 routes are
    dhis2_hub.app.router.routes[:0] = _writing_then_refusing().routes
    api = dhis2_hub.client(*CLIENT)

    refused = api.post("/api/40/optionSets/halfway")
    invalid = api.post("/api/40/optionSets/halfway", params={"count": "many"})

    assert refused.status_code == 409
    assert refused.json() == {
        "httpStatus": "Conflict",
        "httpStatusCode": 409,
        "status": "ERROR",
        "message": "refused halfway",
        "errorCode": "E5002",
    }
    assert invalid.status_code == 400
    assert invalid.json()["status"] == "ERROR"
    assert invalid.json()["message"].startswith("Invalid request: query.count")
    with loaded.session() as session:
        assert session.scalar(select(OptionSet).where(OptionSet.uid == UID)) is None
