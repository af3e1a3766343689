"""Headers as the log stores them: one field per lower-case name, secrets masked."""

from __future__ import annotations

from multidict import MultiDict

from hub.channels.schemas import BodyPolicy
from hub.gateway.body_policy import stored_headers
from hub.gateway.forward import combined

POLICY = BodyPolicy(redact_headers=["X-Patient"])


def test_names_that_differ_only_in_case_are_one_field():
    headers = {"X-A": "1", "x-a": "2", "Authorization": "Basic c2VjcmV0", "X-Patient": "P-1"}
    assert stored_headers(headers, POLICY) == {"x-a": "1, 2", "authorization": "***", "x-patient": "***"}


def test_lines_of_one_name_are_joined_and_a_masked_name_is_masked_once():
    lines = MultiDict([("set-cookie", "a=1"), ("set-cookie", "b=2"), ("via", "1.1 a"), ("via", "1.1 b")])
    assert stored_headers(lines, POLICY) == {"set-cookie": "***", "via": "1.1 a, 1.1 b"}
    assert stored_headers([("Cookie", "a=1"), ("cookie", "b=2")], POLICY) == {"cookie": "***"}


def test_a_plain_dict_keeps_its_values():
    assert stored_headers({"content-type": "application/json"}, POLICY) == {
        "content-type": "application/json"
    }


def test_a_requests_cookie_lines_join_as_one_cookie_header():
    lines = [("Cookie", "a=1"), ("cookie", "b=2"), ("Accept", "a/b"), ("accept", "c/d")]
    assert combined(lines) == {"cookie": "a=1; b=2", "accept": "a/b, c/d"}
