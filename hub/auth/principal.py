"""Who a request is from, once authenticated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["client", "user"]
    pk: int
    name: str  # clientID or e-mail; never a secret
    roles: frozenset[str] = field(default_factory=frozenset)
    org_units: tuple[str, ...] = ()
    via: str = "basic"

    @property
    def is_admin(self) -> bool:
        return self.kind == "user" and "admin" in self.roles
