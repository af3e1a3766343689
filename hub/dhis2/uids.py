"""DHIS2 UIDs: eleven characters, a letter then ten letters or digits (DHIS2's CodeGenerator)."""

from __future__ import annotations

import secrets
import string

_ALPHANUMERIC = string.ascii_letters + string.digits


def new_uid() -> str:
    """A random DHIS2 UID, as DHIS2 gives an object created without one."""
    return secrets.choice(string.ascii_letters) + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(10))
