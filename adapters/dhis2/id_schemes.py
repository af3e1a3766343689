"""Identifier schemes for aggregate imports (``idScheme``, ``orgUnitIdScheme`` …)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

# uid (the default), code, name, or attribute:<UID of a unique attribute>.
Scheme = Annotated[str, StringConstraints(pattern=r"^(?i:uid|code|name|attribute:[A-Za-z][A-Za-z0-9]{10})$")]


class IdSchemes(BaseModel):
    """Which identifier the payload uses for each kind of object. A specific scheme beats
    ``id_scheme``; unset ones are not sent, so DHIS2's defaults apply (uid; code for ADX
    from 2.37).

    Example::

        IdSchemes(org_unit_id_scheme="code", data_element_id_scheme="attribute:Y1LUDU8sWBR")
        # -> ?orgUnitIdScheme=code&dataElementIdScheme=attribute:Y1LUDU8sWBR
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )

    id_scheme: Scheme | None = None
    data_element_id_scheme: Scheme | None = None
    org_unit_id_scheme: Scheme | None = None
    category_option_combo_id_scheme: Scheme | None = None
    attribute_option_combo_id_scheme: Scheme | None = None
    data_set_id_scheme: Scheme | None = None

    def params(self) -> dict[str, str]:
        return self.model_dump(by_alias=True, exclude_none=True)
