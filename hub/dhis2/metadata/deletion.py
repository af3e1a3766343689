"""Removing objects from the cache: the rows they own, their attribute values, and the link rows of
other objects that name them (a data set's org units and elements, a combo's categories, min/max
bounds), as DHIS2 drops an object's associations with it. Plain references (an org unit's
``parent_uid``, a data element's ``category_combo_uid``) stay as they are: the cache keeps
references without checking them.

Used by the importer (``importStrategy=DELETE``, and for the owned rows an update replaces) and by
the metadata sync for what DHIS2's ``/api/deletedObjects`` lists.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub.db.base import Base
from hub.dhis2.metadata import models
from hub.dhis2.metadata.schema import ObjectType

# (link model, its column) naming an object of each type, in rows other objects own
LINKS_TO: dict[type[models.Identifiable], tuple[tuple[type[Base], str], ...]] = {
    models.OrgUnit: ((models.DataSetOrgUnit, "org_unit_uid"), (models.MinMaxDataElement, "org_unit_uid")),
    models.DataElement: (
        (models.DataSetElement, "data_element_uid"),
        (models.MinMaxDataElement, "data_element_uid"),
    ),
    models.CategoryOption: (
        (models.CategoryCategoryOption, "category_option_uid"),
        (models.CategoryOptionComboOption, "category_option_uid"),
    ),
    models.Category: ((models.CategoryComboCategory, "category_uid"),),
    models.CategoryOptionCombo: ((models.MinMaxDataElement, "category_option_combo_uid"),),
}


def delete_owned(session: Session, *, object_type: ObjectType, uids: Collection[str]) -> None:
    """Drop the rows the objects own and their attribute values (an update writes them anew)."""
    for owned in object_type.owned:
        session.execute(delete(owned.model).where(getattr(owned.model, owned.key).in_(uids)))
    session.execute(
        delete(models.AttributeValue).where(
            models.AttributeValue.object_type == object_type.simple_name,
            models.AttributeValue.object_uid.in_(uids),
        )
    )


def delete_objects(session: Session, *, object_type: ObjectType, uids: Collection[str]) -> int:
    """Remove the cached objects ``uids`` of ``object_type`` with their owned and link rows;
    returns how many the cache held (UIDs it never had are no error)."""
    uids = list(uids)
    if not uids:
        return 0
    delete_owned(session, object_type=object_type, uids=uids)
    for link, column in LINKS_TO.get(object_type.model, ()):
        session.execute(delete(link).where(getattr(link, column).in_(uids)))
    model = object_type.model
    result = session.execute(delete(model).where(model.uid.in_(uids)))
    return int(result.rowcount)  # type: ignore[attr-defined]
