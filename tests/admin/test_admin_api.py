"""The admin REST API: channels with audit, clients, transactions, errors as problem+json."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from hub.db.base import utcnow
from hub.settings import Settings
from hub.transactions import retention
from hub.transactions import service as transactions
from hub.transactions.models import Transaction
from tests.admin.conftest import PASSWORD
from tests.conftest import ADMIN, channel


def test_channel_crud_takes_effect_at_once_and_is_audited(hub, upstream):
    spec = channel("made-by-api", r"/api-made", upstream)
    with hub.admin() as admin, hub.client("p1", PASSWORD) as p1:
        assert p1.get("/api-made").status_code == 404
        created = admin.post("/admin/channels", json=spec)
        assert created.status_code == 201 and created.json()["version"] == 1
        assert p1.get("/api-made").status_code == 200, "a new channel routes before the API answers"
        updated = admin.put("/admin/channels/made-by-api", json={**spec, "methods": ["POST"]}).json()
        assert updated["version"] == 2
        assert p1.get("/api-made").status_code == 405
        assert admin.delete("/admin/channels/made-by-api").status_code == 204
        assert p1.post("/api-made").status_code == 404
        audit = admin.get("/admin/channels/made-by-api/audit").json()
    assert [a["action"] for a in audit] == ["delete", "update", "create"]
    assert all(a["actor"] == "admin@hub.test" for a in audit)
    assert audit[1]["before"]["methods"] != audit[1]["after"]["methods"] == ["POST"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"name": "x"}', 422, "url_pattern"),
        (
            b'{"name": "x", "url_pattern": "(", "allowed_roles": ["a"], "routes": [{"name": "r", '
            b'"url": "http://127.0.0.1:1", "primary": true}]}',
            422,
            "not a valid regex",
        ),
        (
            b'{"name": "x", "url_pattern": "/x", "allowed_roles": ["a"], "routes": [{"name": "r", '
            b'"url": "http://127.0.0.1:1"}]}',
            422,
            "exactly one primary",
        ),
    ],
    ids=["malformed-json", "missing-fields", "bad-regex", "no-primary"],
)
def test_bad_channel_documents_are_problems(hub, body, status, needle):
    with hub.admin() as admin:
        r = admin.post("/admin/channels", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]


def test_duplicate_and_missing_are_409_and_404(hub, upstream):
    with hub.admin() as admin:
        assert admin.post("/admin/channels", json=channel("echo", "/x", upstream)).status_code == 409
        assert admin.get("/admin/channels/nope").status_code == 404
        assert admin.post("/admin/clients", json={"client_id": "p1", "name": "dup"}).status_code == 409
        assert admin.get("/admin/transactions/999999").status_code == 404


def test_transactions_list_filters_and_pages(hub):
    with hub.client("p1", PASSWORD) as p1:
        ids = [int(p1.get(f"/echo/{i}").headers["x-hub-transaction-id"]) for i in range(5)]
        p1.get("/echo/status").raise_for_status()
    with hub.admin() as admin:
        first = admin.get("/admin/transactions", params={"limit": 2, "channel": "echo"}).json()
        second = admin.get(
            "/admin/transactions",
            params={"limit": 2, "channel": "echo", "before_id": first["next_before_id"]},
        ).json()
        failed = admin.get("/admin/transactions", params={"status": "Failed"}).json()
        bad = admin.get("/admin/transactions", params={"status": "Nope"})
        detail = admin.get(f"/admin/transactions/{ids[0]}").json()
    assert len(first["items"]) == 2 and len(second["items"]) == 2
    assert first["items"][0]["id"] > first["items"][1]["id"] > second["items"][0]["id"]
    assert failed["items"] == []
    assert bad.status_code == 400 and "unknown status" in bad.json()["detail"]
    assert detail["path"] == "/echo/0" and detail["client_id"] == "p1" and detail["orchestrations"]


def test_rerun_single_and_bulk_link_children(hub):
    with hub.client("p1", PASSWORD) as p1:
        ids = [int(p1.post(f"/echo/{i}", json={"i": i}).headers["x-hub-transaction-id"]) for i in range(3)]
    with hub.admin() as admin:
        one = admin.post(f"/admin/transactions/{ids[0]}/rerun").json()
        bulk = admin.post("/admin/transactions/rerun", json={"ids": ids[1:]}).json()
        parent = admin.get(f"/admin/transactions/{ids[0]}").json()
        child = admin.get(f"/admin/transactions/{one['child_id']}").json()
    assert one["status"] == "Successful" and parent["children"] == [one["child_id"]]
    assert child["parent_id"] == ids[0] and child["request_body"] == '{"i":0}'
    assert [b["parent_id"] for b in bulk] == ids[1:] and all(b["child_id"] for b in bulk)


def test_rerun_refuses_when_the_body_was_not_kept(hub, upstream):
    with hub.admin() as admin:
        admin.post(
            "/admin/channels",
            json=channel("nobody", r"/nobody", upstream, body_policy={"store_request": False}),
        )
    with hub.client("p1", PASSWORD) as p1:
        tx_id = p1.post("/nobody", json={"x": 1}).headers["x-hub-transaction-id"]
    with hub.admin() as admin:
        r = admin.post(f"/admin/transactions/{tx_id}/rerun")
    assert r.status_code == 409 and "not stored" in r.json()["detail"]


def test_retention_culls_by_cutoff_not_by_last_run(db):
    now = utcnow()
    with db.session() as session:
        for age_days in (40, 20, 400):
            tx_id, _ = transactions.open_transaction(
                session, transactions.Opening("r", "POST", "/x", "", None, None, None, {}, "body", 4, True)
            )
            session.get(Transaction, tx_id).started_at = now - timedelta(days=age_days)
    settings = Settings(env="test", database_url=db.url, body_cull_after_days=30, purge_after_days=365)
    with db.session() as session:
        assert retention.apply(session, settings, now=now) == retention.Retained(
            bodies_culled=2, transactions_purged=1
        )
        # a second run an instant later finds nothing new: the cutoff is age-based
        assert retention.apply(session, settings, now=now + timedelta(seconds=1)) == retention.Retained()
    with db.session() as session:
        rows = sorted(session.scalars(select(Transaction)), key=lambda t: t.started_at)
    assert [(r.request_body, r.bodies_culled) for r in rows] == [(None, True), ("body", False)]


def test_openapi_documents_the_admin_api(hub):
    doc = httpx.get(hub.url + "/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/admin/channels",
        "/admin/clients",
        "/admin/transactions",
        "/admin/transactions/{transaction_id}/rerun",
        "/health",
        "/ready",
        "/metrics",
    ):
        assert path in paths, path


def test_an_admin_cannot_remove_or_demote_themselves_in_another_case(hub):
    """E-mails match in any case, so the self-checks compare the user, not the text of the path."""
    admin = hub.admin()
    shouted = ADMIN[0].upper()
    assert admin.delete(f"/admin/users/{shouted}").status_code == 409
    demoted = admin.patch(f"/admin/users/{shouted}", json={"groups": ["viewer"]})
    assert demoted.status_code == 409, demoted.text
    assert admin.get("/admin/users").status_code == 200  # still an admin


# a value for each path parameter the API has, so that every operation can be called
PATH_VALUES = {
    "api_version": "",
    "format": ".json",
    "uid": "a1234567890",
    "job_id": "a1234567890",
    "urn": "urn:mediator:x",
    "email": "someone@hub.test",
}


def test_openapi_declares_how_each_operation_authenticates_and_each_holds_to_it(hub):
    """Every operation the document says needs credentials answers 401 without them; the public ones
    do not; the schemes named are declared."""
    doc = httpx.get(hub.url + "/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert {"basic", "bearer", "mutualTLS", "openhimToken"} <= set(schemes)
    assert schemes["basic"] == {**schemes["basic"], "type": "http", "scheme": "basic"}
    public, secured = set(), set()
    with httpx.Client(base_url=hub.url, timeout=30) as anonymous:
        for path, operations in doc["paths"].items():
            url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "1"), path)
            for method, operation in operations.items():
                security = operation.get("security", doc["security"])
                assert all(name in schemes for requirement in security for name in requirement)
                status = anonymous.request(method.upper(), url).status_code
                if security:
                    assert status == 401, (method, path, status)
                    secured.add(path)
                else:
                    assert status != 401, (method, path, status)
                    public.add(path)
                if path.startswith(("/admin/", "/mediators")):
                    assert {"openhimToken": []} in security, (method, path)
    assert public == {"/health", "/ready", "/metrics", "/authenticate/{user}", "/heartbeat", "/fhir/metadata"}
    assert "/api{api_version}/dataValueSets{format}" in secured
