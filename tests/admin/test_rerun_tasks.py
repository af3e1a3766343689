"""Rerun tasks (OpenHIM's ``/tasks``): many transactions rerun in the background, a batch at a time.

Over real HTTP against a running hub and upstream, on each backend; the claim and crash recovery
also at the service level.
"""

from __future__ import annotations

import threading
import time

from hub.tasks import service
from hub.tasks.models import ItemStatus, RerunTask, TaskStatus
from tests.admin.conftest import PASSWORD
from tests.conftest import channel

PROBLEM = "application/problem+json"


def logged(hub, n: int, path: str = "/echo/{}") -> list[int]:
    """Send ``n`` requests through a channel; their transaction ids."""
    with hub.client("p1", PASSWORD) as p1:
        return [int(p1.post(path.format(i), json={"i": i}).headers["x-hub-transaction-id"]) for i in range(n)]


def finished(admin, task_id: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        task = admin.get(f"/admin/tasks/{task_id}").json()
        if task["status"] == "Completed" or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def items(admin, task_id: int) -> list[dict]:
    return admin.get(f"/admin/tasks/{task_id}/items").json()["items"]


def test_a_task_reruns_each_transaction_once_in_batches_and_links_the_children(hub, upstream_log):
    ids = logged(hub, 5)
    originals = len(upstream_log())
    with hub.admin() as admin:
        created = admin.post("/admin/tasks", json={"ids": [*ids, ids[0]], "batch_size": 2})
        assert created.status_code == 201, created.text
        task = created.json()
        assert task["status"] == "Queued" and task["total"] == 5 and task["created_by"] == "admin@hub.test"
        done = finished(admin, task["id"])
        rows = items(admin, task["id"])
        children = [admin.get(f"/admin/transactions/{r['child_id']}").json() for r in rows]
    assert done["status"] == "Completed" and done["completed_at"]
    assert done["items"] == {"Queued": 0, "Processing": 0, "Completed": 5, "Failed": 0}
    assert [r["transaction_id"] for r in rows] == ids and [r["position"] for r in rows] == list(range(5))
    assert all(r["rerun_status"] == "Successful" for r in rows)
    assert [c["parent_id"] for c in children] == ids
    reruns = upstream_log()[originals:]
    assert sorted(r["body"] for r in reruns) == sorted(f'{{"i":{i}}}' for i in range(5)), "each sent once"


def test_a_task_by_filters_takes_the_oldest_matches_up_to_its_limit(hub):
    ids = logged(hub, 4)
    with hub.admin() as admin:
        task = admin.post("/admin/tasks", json={"channel": "echo", "limit": 3}).json()
        finished(admin, task["id"])
        rows = items(admin, task["id"])
    assert task["total"] == 3 and [r["transaction_id"] for r in rows] == ids[:3]


def test_a_refused_rerun_is_recorded_and_the_rest_go_on(hub, upstream):
    with hub.admin() as admin:
        admin.post(
            "/admin/channels",
            json=channel("kept-out", r"/kept-out", upstream, body_policy={"store_request": False}),
        )
    kept_out = logged(hub, 1, "/kept-out")
    ids = logged(hub, 2)
    with hub.admin() as admin:
        task = admin.post("/admin/tasks", json={"ids": [ids[0], *kept_out, ids[1]]}).json()
        done = finished(admin, task["id"])
        failed = admin.get(f"/admin/tasks/{task['id']}/items", params={"status": "Failed"}).json()["items"]
    assert done["items"]["Completed"] == 2 and done["items"]["Failed"] == 1
    assert failed[0]["transaction_id"] == kept_out[0] and "not stored" in failed[0]["error"]
    assert failed[0]["child_id"] is None


def test_pause_cancel_and_resume(hub):
    ids = logged(hub, 3)
    with hub.admin() as admin:
        task = admin.post("/admin/tasks", json={"ids": ids, "paused": True}).json()
        assert task["status"] == "Paused"
        time.sleep(0.3)  # several polls of the runner
        assert admin.get(f"/admin/tasks/{task['id']}").json()["items"]["Queued"] == 3, "a paused task waits"
        url = f"/admin/tasks/{task['id']}"
        cancelled = admin.put(url, json={"status": "Cancelled"})
        from_cancelled = admin.put(url, json={"status": "Paused"})
        not_a_move = admin.put(url, json={"status": "Completed"})
        resumed = admin.put(url, json={"status": "Queued"})
        done = finished(admin, task["id"])
        after = admin.put(url, json={"status": "Paused"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Cancelled"
    assert from_cancelled.status_code == 409 and from_cancelled.headers["content-type"] == PROBLEM
    assert not_a_move.status_code == 400 and not_a_move.headers["content-type"] == PROBLEM
    assert resumed.status_code == 200 and done["status"] == "Completed" and done["items"]["Completed"] == 3
    assert after.status_code == 409, "Completed is final"


def test_bad_requests_are_problems(hub):
    ids = logged(hub, 1)
    with hub.admin() as admin:
        answers = {
            "unknown id": admin.post("/admin/tasks", json={"ids": [ids[0], 987654321]}),
            "nothing chosen": admin.post("/admin/tasks", json={}),
            "nothing matches": admin.post("/admin/tasks", json={"channel": "no-such-channel"}),
            "bad batch": admin.post("/admin/tasks", json={"ids": ids, "batch_size": 0}),
            "unknown field": admin.post("/admin/tasks", json={"ids": ids, "tids": ids}),
            "unknown task": admin.get("/admin/tasks/424242"),
        }
    expected = {"unknown id": 400, "nothing chosen": 400, "nothing matches": 400}
    expected |= {"bad batch": 422, "unknown field": 422, "unknown task": 404}
    assert {k: r.status_code for k, r in answers.items()} == expected
    assert all(r.headers["content-type"] == PROBLEM for r in answers.values())
    assert "987654321" in answers["unknown id"].json()["detail"]


def test_list_and_delete(hub):
    ids = logged(hub, 1)
    with hub.admin() as admin:
        first = admin.post("/admin/tasks", json={"ids": ids, "paused": True}).json()
        second = admin.post("/admin/tasks", json={"ids": ids}).json()
        finished(admin, second["id"])
        listed = admin.get("/admin/tasks").json()["items"]
        paused = admin.get("/admin/tasks", params={"status": "Paused"}).json()["items"]
        deleted = admin.delete(f"/admin/tasks/{first['id']}")
        gone = admin.get(f"/admin/tasks/{first['id']}")
        unauthenticated = admin.get("/admin/tasks", auth=None)
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert [t["id"] for t in paused] == [first["id"]]
    assert deleted.status_code == 204 and gone.status_code == 404
    assert unauthenticated.status_code == 401


def test_a_batch_is_claimed_once_by_concurrent_claimers(db, database_url):
    """Two hub processes share tasks: on PostgreSQL the second skips the task the first has
    locked; on SQLite it waits for the first's commit. Either way no item is claimed twice."""
    with db.session() as session:
        tx_ids = _transactions(session, 4)
        task_id = service.create(session, tx_ids, batch_size=2, paused=False, created_by="t").id
    first = db.sessions()
    claimed_first = service.claim(first)
    claimed_second: list[service.Batch | None] = []

    def second() -> None:
        with db.session() as session:
            claimed_second.append(service.claim(session))

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    first.commit()
    first.close()
    thread.join(30)
    with db.session() as session:
        again = service.claim(session)
    batches = [b for b in (claimed_first, *claimed_second, again) if b is not None]
    claimed = [item for b in batches for item in b.items]
    assert claimed_first is not None and claimed_first.task_id == task_id
    assert len(claimed) == 4 and len(set(claimed)) == 4, claimed
    if database_url.startswith("postgresql"):
        assert claimed_second == [None], "the locked task is skipped, not waited for"


def test_items_in_flight_at_a_crash_fail_and_are_not_sent_again(db, make_hub, upstream_log):
    with db.session() as session:
        tx_ids = _transactions(session, 3)
        task_id = service.create(session, tx_ids, batch_size=2, paused=False, created_by="t").id
        service.claim(session)  # the crash comes while these two are in flight
    hub = make_hub(rerun_task_poll_s=0.05)  # the restart
    with hub.admin() as admin:
        done = finished(admin, task_id)
        rows = items(admin, task_id)
    assert done["status"] == "Completed"
    assert [r["status"] for r in rows] == ["Failed", "Failed", "Failed"]
    assert "in flight" in rows[0]["error"] and "in flight" in rows[1]["error"]
    assert "does not exist" not in rows[0]["error"]
    assert upstream_log() == [], "nothing is sent twice (the third has no channel: refused, not sent)"
    with db.session() as session:
        assert session.get(RerunTask, task_id).status == TaskStatus.COMPLETED
        assert service.counts(session, task_id)[ItemStatus.FAILED] == 3


def _transactions(session, n: int) -> list[int]:
    from hub.transactions import service as transactions

    opening = transactions.Opening("r", "POST", "/gone", "", None, None, None, {}, "{}", 2, True)
    return [transactions.open_transaction(session, opening)[0] for _ in range(n)]
