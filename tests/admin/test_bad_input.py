"""Bad input to the admin API is a clear 4xx problem+json, never a 500; users' tokens are listable and
revocable; every 401 carries a challenge."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import httpx
import pytest

from hub.api.fields import MAX_ROW_ID
from hub.db.base import utcnow
from tests.admin.conftest import PASSWORD
from tests.conftest import ADMIN, channel

TOO_BIG = MAX_ROW_ID + 1
PROBLEM = "application/problem+json"
OPS = "ops@hub.test"


@pytest.fixture
def ops(hub) -> str:
    """A second admin user, whose tokens the tests issue, list and revoke."""
    with hub.admin() as admin:
        admin.post("/admin/users", json={"email": OPS, "password": "ops-password-1"}).raise_for_status()
    return OPS


def send(hub, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with hub.admin() as admin:
        return admin.request(method, path, **kwargs)


def assert_problem(r: httpx.Response, status: int, needle: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert needle in r.json()["detail"], r.json()


# -- ids ---------------------------------------------------------------------------------------------

ID_CASES = [
    pytest.param("GET", f"/admin/transactions/{TOO_BIG}", {}, "path.transaction_id", id="transaction"),
    pytest.param("POST", f"/admin/transactions/{TOO_BIG}/rerun", {}, "path.transaction_id", id="rerun"),
    pytest.param("GET", f"/admin/outbox/{TOO_BIG}", {}, "path.delivery_id", id="delivery"),
    pytest.param("POST", f"/admin/outbox/{TOO_BIG}/retry", {}, "path.delivery_id", id="retry"),
    pytest.param(
        "GET", "/admin/transactions", {"params": {"before_id": TOO_BIG}}, "query.before_id", id="tx-cursor"
    ),
    pytest.param(
        "GET", "/admin/transactions", {"params": {"parent_id": TOO_BIG}}, "query.parent_id", id="tx-parent"
    ),
    pytest.param(
        "GET", "/admin/outbox", {"params": {"before_id": TOO_BIG}}, "query.before_id", id="outbox-cursor"
    ),
    pytest.param(
        "GET",
        "/admin/outbox",
        {"params": {"transaction_id": TOO_BIG}},
        "query.transaction_id",
        id="outbox-tx",
    ),
    pytest.param(
        "POST", "/admin/transactions/rerun", {"json": {"ids": [1, TOO_BIG]}}, "body.ids.1", id="bulk-rerun"
    ),
    pytest.param("DELETE", f"/admin/clients/p1/tokens/{TOO_BIG}", {}, "path.token_id", id="client-token"),
    pytest.param("DELETE", f"/admin/users/{ADMIN[0]}/tokens/{TOO_BIG}", {}, "path.token_id", id="user-token"),
    pytest.param(
        "GET",
        "/admin/tasks/1/items",
        {"params": {"after_position": TOO_BIG}},
        "query.after_position",
        id="task-items-cursor",
    ),
    pytest.param("GET", "/admin/transactions/0", {}, "path.transaction_id", id="transaction-zero"),
    pytest.param("GET", "/admin/outbox/-1", {}, "path.delivery_id", id="delivery-negative"),
    pytest.param(
        "GET", "/admin/transactions", {"params": {"parent_id": 0}}, "query.parent_id", id="tx-parent-zero"
    ),
    pytest.param(
        "POST", "/admin/transactions/rerun", {"json": {"ids": [-5]}}, "body.ids.0", id="bulk-rerun-negative"
    ),
]


def refused(hub, cases: list[Any], status: int, reason: str = "") -> list[str]:
    """The cases (``pytest.param(method, path, kwargs, where, id=…)``) not refused with ``status``
    and a problem naming ``where`` (and ``reason``): one hub serves them all."""
    failures = []
    for case in cases:
        method, path, kwargs, where = case.values
        r = send(hub, method, path, **kwargs)
        problem = r.json() if r.headers.get("content-type") == PROBLEM else {}
        if r.status_code != status or f"{where}{reason}" not in problem.get("detail", ""):
            failures.append(f"{case.id}: {r.status_code} {r.text[:300]}")
    return failures


def test_ids_beyond_bigint_or_below_one_are_422(hub):
    assert not refused(hub, ID_CASES, 422)


def test_the_largest_bigint_is_a_valid_id(hub):
    assert_problem(send(hub, "GET", f"/admin/transactions/{MAX_ROW_ID}"), 404, str(MAX_ROW_ID))
    assert_problem(send(hub, "POST", f"/admin/outbox/{MAX_ROW_ID}/retry"), 404, str(MAX_ROW_ID))
    for path, cursor in (("/admin/transactions", "before_id"), ("/admin/outbox", "transaction_id")):
        r = send(hub, "GET", path, params={cursor: MAX_ROW_ID})
        assert r.status_code == 200 and r.json()["items"] == [], r.text


# -- datetimes ---------------------------------------------------------------------------------------

NAIVE = "2024-01-01T00:00:00"
FUTURE_NAIVE = (utcnow() + timedelta(days=30)).replace(tzinfo=None).isoformat()
EXPIRING = {"json": {"name": "t", "expires_at": FUTURE_NAIVE}}
DATETIME_CASES = [
    pytest.param("GET", "/admin/transactions", {"params": {"since": NAIVE}}, "query.since", id="since"),
    pytest.param("GET", "/admin/transactions", {"params": {"until": NAIVE}}, "query.until", id="until"),
    pytest.param(
        "POST", "/admin/transactions/rerun", {"json": {"since": NAIVE}}, "body.since", id="rerun-since"
    ),
    pytest.param(
        "POST", "/admin/transactions/rerun", {"json": {"until": NAIVE}}, "body.until", id="rerun-until"
    ),
    pytest.param("POST", f"/admin/users/{ADMIN[0]}/tokens", EXPIRING, "body.expires_at", id="user-token"),
    pytest.param("POST", "/admin/clients/p1/tokens", EXPIRING, "body.expires_at", id="client-token"),
]


def test_datetimes_without_a_timezone_are_422(hub):
    assert not refused(hub, DATETIME_CASES, 422, ": Input should have timezone info")


def test_datetimes_with_a_timezone_filter_the_log(hub):
    with hub.client("p1", PASSWORD) as p1:
        p1.get("/echo/1").raise_for_status()
    before, after = "2000-01-01T00:00:00+01:00", (utcnow() + timedelta(hours=1)).isoformat()
    assert len(send(hub, "GET", "/admin/transactions", params={"since": before}).json()["items"]) == 1
    assert send(hub, "GET", "/admin/transactions", params={"since": after}).json()["items"] == []
    assert send(hub, "GET", "/admin/transactions", params={"until": before}).json()["items"] == []


def test_a_time_beyond_the_calendar_in_utc_is_422(hub):
    r = send(hub, "GET", "/admin/transactions", params={"until": "9999-12-31T23:59:59-14:00"})
    assert_problem(r, 422, "query.until: Value error, the time is out of range once converted to UTC")


@pytest.mark.parametrize("name", ["", "x" * 256], ids=["empty", "too-long"])
def test_a_client_name_patched_empty_or_past_its_column_is_422_and_kept(hub, name):
    """A client is made with a name of 1 to 255 characters; PATCH took an empty one."""
    assert_problem(send(hub, "PATCH", "/admin/clients/p1", json={"name": name}), 422, "body.name")
    assert send(hub, "GET", "/admin/clients/p1").json()["name"] == "P1"


# -- bulk rerun --------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"limit": 5}, {"status": ""}], ids=["empty", "limit-only", "blank"])
def test_bulk_rerun_without_ids_or_a_filter_is_400_and_reruns_nothing(hub, body):
    with hub.client("p1", PASSWORD) as p1:
        p1.get("/echo/1").raise_for_status()
    r = send(hub, "POST", "/admin/transactions/rerun", json=body)
    assert_problem(r, 400, "give ids, or at least one of status, channel, since and until")
    assert len(send(hub, "GET", "/admin/transactions").json()["items"]) == 1, "nothing was rerun"


def test_bulk_rerun_by_one_filter_still_works(hub):
    with hub.client("p1", PASSWORD) as p1:
        tx_id = int(p1.get("/echo/1").headers["x-hub-transaction-id"])
    r = send(hub, "POST", "/admin/transactions/rerun", json={"channel": "echo"})
    assert r.status_code == 200 and [x["parent_id"] for x in r.json()] == [tx_id]


# -- token expiry ------------------------------------------------------------------------------------

TOKEN_PATHS = [f"/admin/users/{ADMIN[0]}/tokens", "/admin/clients/p1/tokens"]


@pytest.mark.parametrize("path", TOKEN_PATHS, ids=["user", "client"])
def test_a_token_expiring_in_the_past_is_refused(hub, path):
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    assert_problem(send(hub, "POST", path, json={"name": "t", "expires_at": past}), 400, "in the future")
    assert send(hub, "GET", path).json() == [], "no token was issued"


@pytest.mark.parametrize("path", TOKEN_PATHS, ids=["user", "client"])
def test_a_token_expiring_in_the_future_is_issued_and_kept_in_utc(hub, path):
    later = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    in_nairobi = later.astimezone(timezone(timedelta(hours=3))).isoformat()
    created = send(hub, "POST", path, json={"name": "t", "expires_at": in_nairobi})
    assert created.status_code == 201, created.text
    in_utc = later.isoformat().replace("+00:00", "Z")
    assert created.json()["expires_at"] == in_utc
    assert [t["expires_at"] for t in send(hub, "GET", path).json()] == [in_utc]


# -- users' tokens -----------------------------------------------------------------------------------


def test_user_tokens_are_listed_without_the_secret_and_revoked_at_once(hub, ops):
    with hub.admin() as admin:
        created = admin.post(f"/admin/users/{ops}/tokens", json={"name": "automation"}).json()
        admin.post(f"/admin/users/{ADMIN[0]}/tokens", json={"name": "mine"}).raise_for_status()
        listed = admin.get(f"/admin/users/{ops}/tokens").json()
    assert [(t["id"], t["name"], t["revoked_at"]) for t in listed] == [(created["id"], "automation", None)]
    assert "token" not in listed[0] and created["token"].startswith(listed[0]["prefix"])
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert httpx.get(hub.url + "/admin/users", headers=bearer).status_code == 200, "now cached"
    with hub.admin() as admin:
        assert admin.delete(f"/admin/users/{ops}/tokens/{created['id']}").status_code == 204
        listed = admin.get(f"/admin/users/{ops}/tokens").json()
    refused = httpx.get(hub.url + "/admin/users", headers=bearer)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"], "the cache was cleared"
    assert listed[0]["revoked_at"] is not None


def test_revoking_someone_elses_or_a_missing_token_is_404(hub, ops):
    with hub.admin() as admin:
        mine = admin.post(f"/admin/users/{ADMIN[0]}/tokens", json={"name": "mine"}).json()
        clients = admin.post("/admin/clients/p1/tokens", json={"name": "p1"}).json()
        other_user = admin.delete(f"/admin/users/{ops}/tokens/{mine['id']}")
        a_client = admin.delete(f"/admin/users/{ops}/tokens/{clients['id']}")
        a_users = admin.delete(f"/admin/clients/p1/tokens/{mine['id']}")
        nobody = admin.get("/admin/users/nobody@hub.test/tokens")
        still = admin.get(f"/admin/users/{ADMIN[0]}/tokens").json()
    assert_problem(other_user, 404, f"user {ops!r} has no token {mine['id']}")
    assert_problem(a_client, 404, f"user {ops!r} has no token {clients['id']}")
    assert_problem(a_users, 404, f"client 'p1' has no token {mine['id']}")
    assert_problem(nobody, 404, "does not exist")
    assert still[0]["revoked_at"] is None, "a refused revoke changed nothing"


# -- challenges --------------------------------------------------------------------------------------


def test_legacy_token_401s_carry_the_same_challenge_as_basic(hub):
    basic = httpx.get(hub.url + "/admin/users", auth=(ADMIN[0], "wrong-password"))
    assert basic.status_code == 401 and basic.headers["www-authenticate"]
    now = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    legacy = {"auth-username": ADMIN[0], "auth-salt": "salt", "auth-token": "not-the-token"}
    for headers in (
        {"auth-token": "only-a-token"},
        {**legacy, "auth-ts": "2020-01-01T00:00:00.000Z"},
        {**legacy, "auth-ts": now},
    ):
        r = httpx.get(hub.url + "/mediators", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM, r.text
        assert r.headers.get("www-authenticate") == basic.headers["www-authenticate"], headers


# -- values the database itself refuses -------------------------------------------------------------


NUL_PATHS = [
    "/admin/transactions?channel=a%00b",
    "/admin/transactions?client_id=a%00b",
    "/admin/outbox?route=a%00b",
    "/admin/clients/a%00b",
]


def test_a_nul_character_is_never_a_500(hub, database_url):
    """PostgreSQL refuses NUL in text (SQLite stores it): a 400 problem there, an ordinary answer here."""
    with hub.admin() as admin:
        answers = {path: admin.get(path) for path in NUL_PATHS}
    for path, r in answers.items():
        if database_url.startswith("postgresql"):
            assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, (path, r.text)
            assert "cannot be stored or searched for" in r.json()["detail"]
        else:
            assert r.status_code in (200, 404), (path, r.text)


def test_numbers_past_their_columns_are_422(hub, upstream):
    def channel_with(**changes: Any) -> dict[str, Any]:
        spec = channel("bounded", r"/bounded", upstream)
        route = changes.pop("route", {})
        return {**spec, **changes, "routes": [{**spec["routes"][0], **route}]}

    cases = [
        pytest.param(
            "POST",
            "/admin/outbox/retry",
            {"json": {"transaction_id": TOO_BIG}},
            "body.transaction_id",
            id="retry",
        ),
        pytest.param(
            "POST", "/admin/channels", {"json": channel_with(priority=2**31)}, "body.priority", id="priority"
        ),
        pytest.param(
            "POST",
            "/admin/channels",
            {"json": channel_with(route={"max_attempts": 10**6})},
            "body.routes.0.max_attempts",
            id="max-attempts",
        ),
    ]
    assert not refused(hub, cases, 422)
