"""The outbox admin API over real HTTP: list, detail, retry, authentication, problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from hub.auth.service import create_user
from hub.db.session import Database
from hub.outbox.models import Delivery, DeliveryStatus
from hub.transactions.models import Status
from tests.outbox.support import enqueue, load, spec, transaction

PROBLEM = "application/problem+json"


def set_status(db: Database, delivery_id: int, status: DeliveryStatus, **values: Any) -> None:
    with db.session() as session:
        session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(status=status, attempts=3, **values)
        )


@pytest.fixture
def hub(make_hub: Callable[..., Any]) -> Any:
    return make_hub()


@pytest.fixture
def outbox(db: Database) -> dict[str, int]:
    """Four deliveries: dead and failed on dhis2, pending on fhir (with a transaction), delivered on fhir."""
    tx_id = transaction(db, Status.SUCCESSFUL)
    dead, failed = enqueue(
        db,
        spec("http://dhis2.test/api/a", route_name="dhis2"),
        spec("http://dhis2.test/api/b", route_name="dhis2"),
    )
    pending, delivered = enqueue(
        db,
        spec("http://fhir.test/Patient", route_name="fhir"),
        spec("http://fhir.test/Obs", route_name="fhir"),
        transaction_id=tx_id,
    )
    set_status(db, dead, DeliveryStatus.DEAD, last_status=503, last_error="upstream answered HTTP 503")
    set_status(db, failed, DeliveryStatus.FAILED, last_status=409)
    set_status(db, delivered, DeliveryStatus.DELIVERED, last_status=200)
    return {"dead": dead, "failed": failed, "pending": pending, "delivered": delivered, "tx": tx_id}


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_filters_newest_first(hub: Any, outbox: dict[str, int]) -> None:
    with hub.admin() as admin:
        assert ids(admin.get("/admin/outbox")) == sorted(v for k, v in outbox.items() if k != "tx")[::-1]
        assert ids(admin.get("/admin/outbox", params={"status": "dead"})) == [outbox["dead"]]
        assert ids(admin.get("/admin/outbox", params={"route": "dhis2"})) == [
            outbox["failed"],
            outbox["dead"],
        ]
        by_tx = admin.get("/admin/outbox", params={"transaction_id": outbox["tx"], "status": "pending"})
        assert ids(by_tx) == [outbox["pending"]]
        item = admin.get("/admin/outbox", params={"status": "dead"}).json()["items"][0]
    assert item["route_name"] == "dhis2" and item["attempts"] == 3 and item["last_status"] == 503
    assert "body" not in item and "headers" not in item


def test_list_pages_by_cursor(hub: Any, outbox: dict[str, int]) -> None:
    newest_first = sorted(v for k, v in outbox.items() if k != "tx")[::-1]
    with hub.admin() as admin:
        first = admin.get("/admin/outbox", params={"limit": 3}).json()
        second = admin.get("/admin/outbox", params={"limit": 3, "before_id": first["next_before_id"]}).json()
    assert [i["id"] for i in first["items"]] == newest_first[:3]
    assert first["next_before_id"] == newest_first[2]
    assert [i["id"] for i in second["items"]] == newest_first[3:]
    assert second["next_before_id"] is None


def test_detail_shows_bodies_as_size_and_excerpt_and_never_credentials(
    hub: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"\xff\xfe" + b"x" * 5000
    (delivery_id,) = enqueue(
        db,
        spec(
            "http://dhis2.test/api/dataValueSets",
            body=body,
            headers={"content-type": "application/octet-stream", "Authorization": "Bearer fixed-route-token"},
            auth={"type": "basic", "username": "admin", "secret_env": "DHIS2_PASSWORD"},
        ),
    )
    monkeypatch.setenv("DHIS2_PASSWORD", "district-secret")

    with hub.admin() as admin:
        r = admin.get(f"/admin/outbox/{delivery_id}")

    assert r.status_code == 200
    detail = r.json()
    assert detail["body"]["size"] == 5002 and detail["body"]["truncated"] is True
    assert detail["body"]["excerpt"] == "\ufffd\ufffd" + "x" * 4094
    assert detail["headers"] == {"content-type": "application/octet-stream", "Authorization": "[redacted]"}
    assert detail["auth_type"] == "basic"
    assert detail["idempotency_key"] == load(db, delivery_id).idempotency_key
    for secret in ("fixed-route-token", "district-secret", "DHIS2_PASSWORD", "secret_env"):
        assert secret not in r.text


def test_retry_one_resets_a_dead_delivery(hub: Any, db: Database, outbox: dict[str, int]) -> None:
    before = load(db, outbox["dead"])
    with hub.admin() as admin:
        r = admin.post(f"/admin/outbox/{outbox['dead']}/retry")

    assert r.status_code == 200
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
    after = load(db, outbox["dead"])
    assert (after.status, after.attempts) == (DeliveryStatus.PENDING, 0)
    assert after.next_attempt_at > before.next_attempt_at
    assert after.idempotency_key == before.idempotency_key, "a retry is the same delivery: same key"


@pytest.mark.parametrize(
    ("which", "status", "detail"),
    [
        ("delivered", 409, "is delivered; only failed or dead deliveries can be retried"),
        ("pending", 409, "is pending; only failed or dead deliveries can be retried"),
        ("missing", 404, "does not exist"),
    ],
    ids=["delivered", "pending", "missing"],
)
def test_retry_one_refuses_what_cannot_be_retried(
    hub: Any, db: Database, outbox: dict[str, int], which: str, status: int, detail: str
) -> None:
    delivery_id = outbox.get(which, 999_999)
    with hub.admin() as admin:
        r = admin.post(f"/admin/outbox/{delivery_id}/retry")

    assert r.status_code == status
    assert r.headers["content-type"] == PROBLEM
    assert detail in r.json()["detail"]
    if which in outbox:
        assert load(db, delivery_id).status == which


@pytest.mark.parametrize(
    ("request_body", "retried"),
    [({"status": "dead"}, ["dead"]), ({"route": "dhis2"}, ["dead", "failed"]), ({"route": "fhir"}, [])],
    ids=["by-status", "by-route-both-statuses", "nothing-to-retry"],
)
def test_bulk_retry(
    hub: Any, db: Database, outbox: dict[str, int], request_body: dict[str, Any], retried: list[str]
) -> None:
    with hub.admin() as admin:
        r = admin.post("/admin/outbox/retry", json=request_body)

    assert r.status_code == 200
    assert r.json() == {"retried": len(retried), "ids": sorted(outbox[k] for k in retried)}
    for name in ("dead", "failed"):
        assert load(db, outbox[name]).status == ("pending" if name in retried else name)


def test_authentication_and_admin_group_are_required(hub: Any, db: Database) -> None:
    with db.session() as session:
        create_user(session, email="viewer@hub.test", password="viewer-password-1", groups=["viewer"])
    with hub.admin() as admin:
        anonymous = admin.get("/admin/outbox", auth=None)
        viewer = admin.post("/admin/outbox/retry", json={}, auth=("viewer@hub.test", "viewer-password-1"))
        wrong = admin.get("/admin/outbox/1", auth=("admin@hub.test", "not-the-password"))

    assert anonymous.status_code == 401 and "www-authenticate" in anonymous.headers
    assert viewer.status_code == 403 and "admin" in viewer.json()["detail"]
    assert wrong.status_code == 401
    assert {r.headers["content-type"] for r in (anonymous, viewer, wrong)} == {PROBLEM}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/admin/outbox", {"params": {"status": "lost"}}, "status"),
        ("GET", "/admin/outbox", {"params": {"limit": 0}}, "limit"),
        ("GET", "/admin/outbox", {"params": {"limit": 501}}, "limit"),
        ("GET", "/admin/outbox", {"params": {"before_id": "newest"}}, "before_id"),
        ("GET", "/admin/outbox/abc", {}, "delivery_id"),
        ("POST", "/admin/outbox/retry", {"json": {"status": "delivered"}}, "status"),
        ("POST", "/admin/outbox/retry", {"json": {"channel": "x"}}, "channel"),
    ],
    ids=[
        "unknown-status",
        "limit-0",
        "limit-501",
        "cursor-not-int",
        "id-not-int",
        "retry-delivered",
        "unknown-field",
    ],
)
def test_bad_parameters_are_problem_json(
    hub: Any, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    with hub.admin() as admin:
        r = admin.request(method, path, **kwargs)

    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert field in r.json()["detail"]


def test_openapi_documents_the_response_models(hub: Any) -> None:
    with hub.admin() as admin:
        doc = admin.get("/openapi.json").json()
    schema = doc["paths"]["/admin/outbox/{delivery_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    assert schema["schema"]["$ref"].endswith("/DeliveryDetail")
    assert {"size", "excerpt", "truncated"} <= set(doc["components"]["schemas"]["BodyInfo"]["properties"])
