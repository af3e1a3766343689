"""Value sets as DHIS2 option sets: a pure function from concepts to a ``/api/metadata`` payload.

UIDs are derived from hashes, never random, so exporting the same value set again yields the
same payload and DHIS2's CREATE_AND_UPDATE import changes only what changed:

* the option set's UID from the value set's url (a new version updates the same option set);
* each option's UID from the option set's UID, the code's system and the code: DHIS2 lets an
  option belong to one option set only, so two value sets sharing J18.9 need two options.

DHIS2 limits: option codes ≤ 50 characters (longer codes are refused, since cutting them would
break the mapping back to the code system), names ≤ 230 (longer ones are shortened with "…").
Names are "code display": DHIS2 wants them unique within an option set and ICD-10 repeats some
displays.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from terminology import expand
from terminology.catalog import Catalog
from terminology.errors import InvalidResource

LETTERS = string.ascii_letters
ALPHANUMERIC = string.ascii_letters + string.digits
MAX_CODE = 50
MAX_NAME = 230
_NOT_CODE = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True, slots=True)
class OptionSource:
    system: str
    code: str
    display: str | None


def uid(*parts: str) -> str:
    """A DHIS2 UID (a letter, then ten letters or digits) derived from ``parts``."""
    # NUL cannot occur in a url or code, so ("a|b",) and ("a", "b") never share a UID
    number = int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest(), "big")
    number, first = divmod(number, len(LETTERS))
    chars = [LETTERS[first]]
    for _ in range(10):
        number, index = divmod(number, len(ALPHANUMERIC))
        chars.append(ALPHANUMERIC[index])
    return "".join(chars)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def option_set(concepts: Iterable[OptionSource], *, url: str, name: str, code: str) -> dict[str, Any]:
    """The metadata payload ``{"optionSets": [...], "options": [...]}`` for one value set."""
    set_uid = uid("optionSet", url)
    items = list(concepts)
    too_long = [c.code for c in items if len(c.code) > MAX_CODE]
    if len(code) > MAX_CODE:
        raise InvalidResource(
            f"option set code {code!r} is longer than {MAX_CODE} characters", expression="code"
        )
    if too_long:
        raise InvalidResource(
            f"{len(too_long)} code(s) are longer than DHIS2's {MAX_CODE} characters, e.g. {too_long[0]!r}",
            issues=[(f"code {c!r} is longer than {MAX_CODE} characters", c) for c in too_long],
        )
    options = [
        {
            "id": uid(set_uid, item.system, item.code),
            "code": item.code,
            "name": _shorten(f"{item.code} {item.display}" if item.display else item.code, MAX_NAME),
            "sortOrder": position,
            "optionSet": {"id": set_uid},
        }
        for position, item in enumerate(items, start=1)
    ]
    return {
        "optionSets": [
            {
                "id": set_uid,
                "code": code,
                "name": _shorten(name, MAX_NAME),
                "valueType": "TEXT",
                "options": [{"id": o["id"]} for o in options],
            }
        ],
        "options": options,
    }


def for_value_set(
    catalog: Catalog,
    *,
    url: str,
    version: str | None = None,
    code: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The option set payload of value set ``url`` (stored or implicit), in the value set's order.

    ``code`` defaults to the value set's name in upper case (``ICD10CODES``), ``name`` to its title.
    """
    definition = expand.definition(catalog, url=url, version=version)
    resource = definition.resource
    label = resource.get("title") or resource.get("name") or url
    code = code or _NOT_CODE.sub("_", (resource.get("name") or label).upper()).strip("_")[:MAX_CODE]
    sources = (OptionSource(s.url, e.code, e.display) for s, e in expand.members(catalog, definition).items)
    return option_set(sources, url=url, name=name or label, code=code)
