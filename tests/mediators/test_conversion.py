"""Pure rules, no hub: SemVer precedence and OpenHIM channel documents turned into hub channels."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.errors import BadRequest
from hub.mediators.schemas import OpenHIMChannel, semver_key
from hub.mediators.service import OPENHIM_PRIORITY_BASE, to_channel_spec


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0", "1.0.1"),
        ("1.9.0", "1.10.0"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.2", "1.0.0-alpha.10"),
        ("1.0.0-2", "1.0.0-alpha"),
        ("v1.0.0", "2.0.0"),
    ],
    ids=["patch", "numeric-not-lexical", "release-beats-prerelease", "longer-prerelease",
         "numeric-identifiers", "numeric-before-alphanumeric", "leading-v"],
)  # fmt: skip
def test_semver_precedence(lower, higher):
    assert semver_key(lower) < semver_key(higher)


def test_build_metadata_does_not_count():
    assert semver_key("1.0.0+build.7") == semver_key("1.0.0")


@pytest.mark.parametrize("version", ["1.0", "1.0.0.0", "01.0.0", "1.0.0-", "latest"])
def test_not_semver(version):
    with pytest.raises(ValueError, match="SemVer"):
        semver_key(version)


def convert(**fields: Any):
    route = {"name": "r", "host": "mediator.local", "port": 8080}
    doc = {"name": "Lab", "urlPattern": "^/lab$", "allow": ["lab"], "routes": [route], **fields}
    return to_channel_spec(OpenHIMChannel.model_validate(doc))


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("^/lab$", ["/lab"], ["/lab/x", "/api/lab"]),
        ("^/lab", ["/lab", "/lab/x"], ["/api/lab"]),
        ("/lab", ["/lab", "/api/lab/x"], ["/la"]),
        ("^/a$|^/b$", ["/a", "/b"], ["/ab"]),
    ],
    ids=["anchored", "prefix", "anywhere", "alternation"],
)
def test_url_pattern_keeps_openhim_search_semantics(pattern, matches, misses):
    compiled = re.compile(convert(urlPattern=pattern).url_pattern)
    assert all(compiled.fullmatch(p) for p in matches)
    assert not any(compiled.fullmatch(p) for p in misses)


def test_fields_map_onto_the_hub_channel():
    spec = convert(
        description="Lab results",
        methods=["get", "POST"],
        priority=2,
        timeout=1500,
        matchContentTypes=["application/fhir+json"],
        requestBody=False,
        status="disabled",
        routes=[
            {"name": "main", "host": "m", "port": 443, "secured": True, "primary": True, "path": "/fhir",
             "pathTransform": "s/lab/fhir/", "forwardAuthHeader": True},
            {"name": "copy", "host": "c", "port": 80},
            {"name": "off", "host": "o", "port": 80, "status": "disabled"},
        ],
    )  # fmt: skip
    assert spec.description == "Lab results" and spec.methods == ["GET", "POST"]
    assert spec.priority == OPENHIM_PRIORITY_BASE - 2 and spec.timeout_s == 1.5 and not spec.enabled
    assert spec.content_types == ["application/fhir+json"]
    assert not spec.body_policy.store_request and spec.body_policy.store_response
    main, copy = spec.routes
    assert str(main.url) == "https://m/" and main.primary and main.path == "/fhir"
    assert main.path_transform == "s/lab/fhir/" and main.forward_auth
    assert copy.name == "copy" and not copy.primary, "disabled routes are dropped, secondaries stay"


def test_a_single_route_is_the_primary_and_public_needs_no_roles():
    spec = convert(authType="public", allow=[])
    assert spec.public and spec.routes[0].primary and str(spec.routes[0].url) == "http://mediator.local:8080/"


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"type": "polling"}, "serves only http"),
        ({"routes": [{"name": "r", "host": "h", "port": 1, "type": "mllp"}]}, "routes only http"),
        ({"routes": [{"name": "r", "host": "h", "port": 1, "username": "u"}]}, "carries credentials"),
        ({"urlPattern": "^/lab("}, "not a valid regex"),
        (
            {"routes": [{"name": "a", "host": "h", "port": 1}, {"name": "b", "host": "h", "port": 2}]},
            "primary",
        ),
    ],
    ids=["polling-channel", "mllp-route", "route-credentials", "bad-regex", "no-primary"],
)
def test_what_the_hub_cannot_honour_is_a_bad_request(fields, detail):
    with pytest.raises(BadRequest, match=re.escape(detail)):
        convert(**fields)
