"""Found by a sweep of the admin API with malformed input: each is a clear 4xx problem+json, never a
500, and nothing of it is stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import as_json, channel

PROBLEM = "application/problem+json"
LONE = "\ud800"
SURROGATE_DETAIL = "the body's JSON holds a lone surrogate escape"
NUL = "\x00"
NUL_DETAIL = "the body's JSON holds a NUL character"


def _channel(upstream: str, **changes: Any) -> dict[str, Any]:
    return {**channel("swept", r"/swept", upstream), **changes}


NEW_USER = {"email": "u@hub.test", "password": "password-12"}
SURROGATE_CASES = [
    pytest.param("POST", "/admin/users", {**NEW_USER, "groups": [LONE]}, id="user-groups"),
    pytest.param("PATCH", "/admin/clients/p1", {"roles": ["partner", LONE]}, id="client-roles"),
    pytest.param("PATCH", "/admin/clients/p1", {"org_units": [LONE]}, id="client-org-units"),
    pytest.param("POST", "/admin/clients", {"client_id": "c2", "name": "C", "roles": [LONE]}, id="client"),
    pytest.param("POST", "/admin/transactions/rerun", {"channel": LONE}, id="rerun-filter"),
    pytest.param("POST", "/admin/tasks", {"channel": LONE}, id="task-filter"),
    pytest.param("POST", "/admin/outbox/retry", {"route": LONE}, id="outbox-retry-filter"),
    pytest.param("POST", "/admin/users", {**NEW_USER, LONE: 1}, id="a-key"),
]  # fmt: skip


def _with_nul(body: Any) -> Any:
    """``body`` with a NUL character where it holds the lone surrogate."""
    if isinstance(body, dict):
        return {_with_nul(k): _with_nul(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_with_nul(v) for v in body]
    return body.replace(LONE, NUL) if isinstance(body, str) else body


@pytest.mark.parametrize(
    ("text", "detail"), [(LONE, SURROGATE_DETAIL), (NUL, NUL_DETAIL)], ids=["lone", "nul"]
)
@pytest.mark.parametrize(("method", "path", "body"), SURROGATE_CASES)
def test_text_the_hub_cannot_store_in_a_body_is_400_and_stores_nothing(hub, method, path, body, text, detail):
    """A 500 before (PostgreSQL refused the text; SQLite stored it, and every later read of the row,
    and of the list holding it, was a 500); a NUL was stored as U+FFFD on PostgreSQL while the
    answer echoed it."""
    if text == NUL:
        body = _with_nul(body)
    with hub.admin() as admin:
        r = admin.request(method, path, **as_json(body))
        client = admin.get("/admin/clients/p1")
        users, clients = admin.get("/admin/users"), admin.get("/admin/clients")
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["title"] == "Bad request" and detail in r.json()["detail"]
    assert client.status_code == 200 and client.json()["roles"] == ["partner"], client.text
    assert client.json()["org_units"] == []
    assert users.status_code == 200 and [u["email"] for u in users.json()] == ["admin@hub.test"]
    assert clients.status_code == 200 and [c["client_id"] for c in clients.json()] == ["p1"]


@pytest.mark.parametrize(
    "changes",
    [{"description": LONE}, {"url_pattern": f"/swept{LONE}"}, {"allowed_roles": [LONE]}],
    ids=["description", "pattern", "roles"],
)
def test_a_lone_surrogate_in_a_channel_is_400_and_stores_nothing(hub, upstream, changes):
    with hub.admin() as admin:
        spec = _channel(upstream, **changes)
        created = admin.post("/admin/channels", **as_json(spec))
        replaced = admin.put("/admin/channels/echo", **as_json({**spec, "name": "echo"}))
        listed = admin.get("/admin/channels")
    for r in (created, replaced):
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, r.text
        assert SURROGATE_DETAIL in r.json()["detail"]
    assert listed.status_code == 200 and [c["name"] for c in listed.json()] == ["echo"]
    assert listed.json()[0]["url_pattern"] == r"/echo/.*"


def test_a_surrogate_pair_is_text(hub, upstream):
    """The escapes of a character beyond the BMP (an emoji) are one character, as JSON means them."""
    with hub.admin() as admin:
        r = admin.post("/admin/channels", json=_channel(upstream, description="\U0001f600"))
    assert r.status_code == 201 and r.json()["description"] == "\U0001f600", r.text


def test_a_body_is_refused_only_once_the_caller_is_an_admin(hub):
    r = httpx.patch(f"{hub.url}/admin/clients/p1", **as_json({"roles": [LONE]}), auth=("p1", "wrong"))
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM, r.text
