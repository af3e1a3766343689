"""Reruns send exactly the request that arrived, or are refused with a clear 409: never a culled
body as an empty one, never without a header the upstream was sent, never twice by one call, and
never while the original is still in flight or owed by the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.db.base import utcnow
from hub.transactions import service as transactions
from hub.transactions.models import Status, Transaction
from tests.admin.conftest import PASSWORD
from tests.conftest import channel


def _cull_everything(hub) -> None:
    """Retention's body cull as a run 31 days from now with a 30-day age would do it."""
    with hub.runtime.db.session() as session:
        later = utcnow() + timedelta(days=31)
        assert transactions.cull_bodies(session, older_than=timedelta(days=30), now=later) > 0


def _sent(upstream_log, path: str) -> list[dict]:
    return [r for r in upstream_log() if r["path"] == path]


def test_a_culled_body_is_refused_not_rerun_empty_and_a_bodiless_request_still_reruns(hub, upstream_log):
    with hub.client("p1", PASSWORD) as p1:
        posted = p1.post("/echo/culled", json={"value": 1}).headers["x-hub-transaction-id"]
        got = p1.get("/echo/bodiless").headers["x-hub-transaction-id"]
    _cull_everything(hub)
    with hub.admin() as admin:
        refused = admin.post(f"/admin/transactions/{posted}/rerun")
        bulk = admin.post("/admin/transactions/rerun", json={"ids": [int(posted)]}).json()
        rerun = admin.post(f"/admin/transactions/{got}/rerun")
        parent = admin.get(f"/admin/transactions/{posted}").json()

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "cannot be rerun" in refused.json()["detail"] and "culled" in refused.json()["detail"]
    assert bulk[0]["child_id"] is None and "culled" in bulk[0]["error"]
    assert len(_sent(upstream_log, "/echo/culled")) == 1, "the upstream never got an empty body"
    assert parent["children"] == [] and parent["bodies_culled"] is True
    # a request without a body lost nothing to culling: it can still be rerun
    assert rerun.status_code == 200 and rerun.json()["status"] == "Successful"


def test_a_bodiless_request_reruns_on_a_channel_that_keeps_no_request_bodies(hub, upstream, upstream_log):
    spec = channel("nobody", r"/nobody/.*", upstream, body_policy={"store_request": False})
    with hub.admin() as admin:
        assert admin.post("/admin/channels", json=spec).status_code == 201
    with hub.client("p1", PASSWORD) as p1:
        got = p1.get("/nobody/read", params={"q": "1"}).headers["x-hub-transaction-id"]
        posted = p1.post("/nobody/write", json={"x": 1}).headers["x-hub-transaction-id"]
    with hub.admin() as admin:
        rerun = admin.post(f"/admin/transactions/{got}/rerun")
        refused = admin.post(f"/admin/transactions/{posted}/rerun")

    assert rerun.status_code == 200, rerun.text
    again = _sent(upstream_log, "/nobody/read")
    assert len(again) == 2 and again[1]["query"] == "q=1"
    assert refused.status_code == 409 and "not stored" in refused.json()["detail"]


def test_a_rerun_that_would_lose_a_masked_header_the_upstream_was_sent_is_refused(
    hub, upstream, upstream_log
):
    spec = channel(
        "keyed",
        r"/keyed/.*",
        upstream,
        body_policy={"redact_headers": ["x-tenant-secret"]},
        routes=[
            {
                "name": "keyed-primary",
                "url": upstream,
                "primary": True,
                # a header the route sets itself is sent on a rerun whatever the client sent
                "headers": {"x-route-owned": "route"},
            }
        ],
    )
    spec["body_policy"]["redact_headers"].append("x-route-owned")
    with hub.admin() as admin:
        assert admin.post("/admin/channels", json=spec).status_code == 201
    with hub.client("p1", PASSWORD) as p1:
        secret = p1.get("/keyed/a", headers={"x-tenant-secret": "s3cret"}).headers["x-hub-transaction-id"]
        api_key = p1.get("/keyed/b", headers={"x-api-key": "k"}).headers["x-hub-transaction-id"]
        owned = p1.get("/keyed/c", headers={"x-route-owned": "client"}).headers["x-hub-transaction-id"]
        keyed = p1.get("/keyed/d", headers={"idempotency-key": "abc"}).headers["x-hub-transaction-id"]
    with hub.admin() as admin:
        refused = {tx: admin.post(f"/admin/transactions/{tx}/rerun") for tx in (secret, api_key)}
        rerun_owned = admin.post(f"/admin/transactions/{owned}/rerun")
        rerun_keyed = admin.post(f"/admin/transactions/{keyed}/rerun")

    assert refused[secret].status_code == 409, refused[secret].text
    assert "x-tenant-secret" in refused[secret].json()["detail"]
    assert refused[api_key].status_code == 409 and "x-api-key" in refused[api_key].json()["detail"]
    assert len(_sent(upstream_log, "/keyed/a")) == 1 and len(_sent(upstream_log, "/keyed/b")) == 1
    # the route's own value replaces the masked one; a rerun is a new attempt, not a replay of its key
    assert rerun_owned.status_code == 200 and rerun_keyed.status_code == 200


def test_a_rerun_that_would_send_a_masked_query_parameter_is_refused(hub, upstream, upstream_log):
    spec = channel("fhir", r"/fhir/.*", upstream, body_policy={"redact_fields": ["identifier"]})
    with hub.admin() as admin:
        assert admin.post("/admin/channels", json=spec).status_code == 201
    with hub.client("p1", PASSWORD) as p1:
        searched = p1.get("/fhir/Patient", params={"identifier:exact": "NID999", "_count": "5"})
        keyed = p1.get("/fhir/Observation", params={"access_token": "TOKEN1"})
        plain = p1.get("/fhir/Encounter", params={"_count": "5"})
    with hub.admin() as admin:
        refused = {
            name: admin.post(f"/admin/transactions/{r.headers['x-hub-transaction-id']}/rerun")
            for name, r in (("identifier:exact", searched), ("access_token", keyed))
        }
        rerun = admin.post(f"/admin/transactions/{plain.headers['x-hub-transaction-id']}/rerun")

    for name, r in refused.items():
        assert r.status_code == 409 and name in r.json()["detail"], r.text
    assert [q["query"] for q in upstream_log() if q["path"] != "/fhir/Encounter"] == [
        "identifier%3Aexact=NID999&_count=5",
        "access_token=TOKEN1",
    ], "the masked values were never sent"
    assert rerun.status_code == 200 and len(_sent(upstream_log, "/fhir/Encounter")) == 2


def test_a_bulk_rerun_by_filter_leaves_out_what_a_rerun_already_settled(hub, upstream_log):
    with hub.client("p1", PASSWORD) as p1:
        first, second = (
            int(p1.post(f"/echo/{n}", json={"n": n}).headers["x-hub-transaction-id"]) for n in (1, 2)
        )
    with hub.runtime.db.session() as session:  # as if the upstream had been down for both
        session.execute(
            update(Transaction).where(Transaction.id.in_([first, second])).values(status=Status.FAILED)
        )
    with hub.admin() as admin:
        assert admin.post(f"/admin/transactions/{first}/rerun").status_code == 200
        bulk = admin.post("/admin/transactions/rerun", json={"status": "Failed"}).json()
        again = admin.post("/admin/transactions/rerun", json={"status": "Failed"}).json()
        by_id = admin.post(f"/admin/transactions/{first}/rerun")

    assert [r["parent_id"] for r in bulk] == [second], "the first was rerun to success already"
    assert again == [], "and so was the second"
    assert by_id.status_code == 200, "by id an admin still may"
    assert [len(_sent(upstream_log, f"/echo/{n}")) for n in (1, 2)] == [3, 2]


@pytest.mark.parametrize("status", [Status.PROCESSING, Status.PENDING_ASYNC])
def test_a_transaction_still_in_flight_or_owed_is_not_rerun(hub, upstream_log, status):
    with hub.client("p1", PASSWORD) as p1:
        tx_id = int(p1.post("/echo/owed", json={"a": 1}).headers["x-hub-transaction-id"])
    with hub.runtime.db.session() as session:
        session.execute(update(Transaction).where(Transaction.id == tx_id).values(status=status))
    with hub.admin() as admin:
        one = admin.post(f"/admin/transactions/{tx_id}/rerun")
        bulk = admin.post("/admin/transactions/rerun", json={"channel": "echo"}).json()

    assert one.status_code == 409 and status.value in one.json()["detail"], one.text
    assert bulk == [{"parent_id": tx_id, "child_id": None, "status": None, "error": one.json()["detail"]}]
    assert len(_sent(upstream_log, "/echo/owed")) == 1


def test_bulk_rerun_sends_a_repeated_id_once_and_children_are_listed_in_order(hub, upstream_log):
    with hub.client("p1", PASSWORD) as p1:
        tx_id = int(p1.post("/echo/once", json={"a": 1}).headers["x-hub-transaction-id"])
    with hub.admin() as admin:
        bulk = admin.post("/admin/transactions/rerun", json={"ids": [tx_id, tx_id, tx_id]}).json()
        more = [admin.post(f"/admin/transactions/{tx_id}/rerun").json()["child_id"] for _ in range(3)]
        parent = admin.get(f"/admin/transactions/{tx_id}").json()
        listed = admin.get("/admin/transactions", params={"parent_id": tx_id}).json()

    assert len(bulk) == 1 and bulk[0]["child_id"], bulk
    assert len(_sent(upstream_log, "/echo/once")) == 1 + 1 + 3
    assert parent["children"] == [bulk[0]["child_id"], *more]
    assert [i["id"] for i in listed["items"]] == [*reversed(more), bulk[0]["child_id"]]


def test_bulk_rerun_reports_an_unexpected_fault_for_its_id_and_goes_on(hub, upstream_log, monkeypatch):
    from hub.gateway import rerun as reruns

    with hub.client("p1", PASSWORD) as p1:
        sent = [p1.post(f"/echo/fault/{i}", json={"i": i}) for i in range(3)]
    ids = [int(r.headers["x-hub-transaction-id"]) for r in sent]
    real = reruns.rerun

    async def faulty(runtime, transaction_id):
        if transaction_id == ids[1]:
            raise RuntimeError("the database went away")
        return await real(runtime, transaction_id)

    monkeypatch.setattr(reruns, "rerun", faulty)
    with hub.admin() as admin:
        r = admin.post("/admin/transactions/rerun", json={"ids": ids})

    assert r.status_code == 200, r.text
    results = r.json()
    assert [x["parent_id"] for x in results] == ids
    assert results[0]["child_id"] and results[2]["child_id"], "the reruns before and after still ran"
    assert results[1]["child_id"] is None and "internal error" in results[1]["error"]
