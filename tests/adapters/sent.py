"""What a mocked transport received, in a shape tests can assert on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: requests.structures.CaseInsensitiveDict[str]
    body: bytes

    @classmethod
    def of(cls, request: requests.PreparedRequest) -> Sent:
        parts = urlsplit(request.url or "")
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        return cls(
            request.method or "",
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            request.headers,
            body or b"",
        )

    @property
    def params(self) -> dict[str, str]:
        """The query with one value per name (the last, as a server would read it)."""
        return {name: values[-1] for name, values in self.query.items()}

    def json(self) -> Any:
        return json.loads(self.body)
