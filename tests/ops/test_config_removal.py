"""What the YAML file stops listing is taken away when the hub next applies it; what the admin API made
is never touched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.auth.models import ApiToken
from tests.conftest import channel

PASSWORDS = {"P_KEEP": "keep-password-1", "P_GONE": "gone-password-1"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def partner(client_id: str, password_env: str) -> dict[str, Any]:
    return {"client_id": client_id, "name": client_id, "roles": ["partner"], "password_env": password_env}


@pytest.fixture
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)


def full_config(upstream: str) -> dict[str, Any]:
    return {
        "clients": [partner("keeper", "P_KEEP"), partner("leaver", "P_GONE")],
        "channels": [channel("kept", r"/kept", upstream), channel("dropped", r"/dropped", upstream)],
    }


def test_clients_and_channels_dropped_from_the_file_are_removed(make_hub, upstream, passwords):
    first = make_hub(full_config(upstream))
    keeper = ("keeper", PASSWORDS["P_KEEP"])
    leaver = ("leaver", PASSWORDS["P_GONE"])
    with first.admin() as admin:
        assert admin.post("/admin/channels", json=channel("by-api", r"/by-api", upstream)).status_code == 201
        made = admin.post(
            "/admin/clients", json={"client_id": "api-app", "name": "App", "roles": ["partner"]}
        )
        assert made.status_code == 201
        api_token = admin.post("/admin/clients/api-app/tokens", json={"name": "api-ci"}).json()["token"]
        leaver_token = admin.post("/admin/clients/leaver/tokens", json={"name": "leaver-ci"}).json()["token"]
    assert httpx.get(first.url + "/dropped", auth=leaver).status_code == 200
    assert httpx.get(first.url + "/kept", headers=bearer(leaver_token)).status_code == 200
    first.stop()

    second = make_hub(
        {"clients": [partner("keeper", "P_KEEP")], "channels": [channel("kept", r"/kept", upstream)]}
    )

    assert httpx.get(second.url + "/kept", auth=leaver).status_code == 401
    assert httpx.get(second.url + "/kept", headers=bearer(leaver_token)).status_code == 401
    with second.runtime.db.session() as session:
        assert session.scalars(select(ApiToken.name)).all() == ["api-ci"], (
            "only the API client's token is left"
        )
    assert httpx.get(second.url + "/kept", auth=keeper).status_code == 200
    assert httpx.get(second.url + "/dropped", auth=keeper).status_code == 404
    with second.admin() as admin:
        assert admin.get("/admin/clients/leaver").status_code == 404
        audit = admin.get("/admin/channels/dropped/audit").json()
        assert [(a["action"], a["actor"]) for a in audit] == [
            ("delete", "config-file"),
            ("create", "config-file"),
        ]
        assert audit[0]["before"]["url_pattern"] == "/dropped" and audit[0]["after"] is None
        assert [a["action"] for a in admin.get("/admin/channels/kept/audit").json()] == ["create"]
        assert admin.get("/admin/channels/by-api").json()["source"] == "api"
    assert httpx.get(second.url + "/by-api", headers=bearer(api_token)).status_code == 200


def test_a_hub_started_without_a_file_leaves_what_a_file_made(make_hub, upstream, passwords):
    make_hub(full_config(upstream)).stop()

    hub = make_hub()

    assert httpx.get(hub.url + "/dropped", auth=("leaver", PASSWORDS["P_GONE"])).status_code == 200


def test_a_password_the_file_stops_naming_is_taken_away(make_hub, upstream, passwords):
    """A client the file keeps but declares without a password (a certificate-only client, say) no
    longer signs in with the one an earlier file gave it; it kept it before."""
    make_hub(full_config(upstream)).stop()
    keeper = ("keeper", PASSWORDS["P_KEEP"])
    without = {**partner("keeper", "P_KEEP"), "password_env": None}
    hub = make_hub({"clients": [without], "channels": [channel("kept", r"/kept", upstream)]})
    assert httpx.get(hub.url + "/kept", auth=keeper).status_code == 401
    with hub.admin() as admin:
        assert admin.get("/admin/clients/keeper").json()["has_password"] is False
