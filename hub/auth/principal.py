"""Who a request is from, once authenticated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ADMIN_ROLE = "admin"  # full access: an admin user's group; on a client, DHIS2's superuser


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
        return self.kind == "user" and ADMIN_ROLE in self.roles
