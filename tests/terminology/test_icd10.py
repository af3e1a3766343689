"""ICD-10 2019 as loaded into the hub's database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from hub.db.session import Database
from terminology import expand, icd10
from terminology.catalog import Catalog
from terminology.models import CodeSystem, Concept


def test_every_item_is_stored_with_its_kind(db: Database) -> None:
    with db.session() as session:
        system = session.scalars(select(CodeSystem).where(CodeSystem.url == icd10.URL)).one()
        total = session.scalar(select(func.count()).where(Concept.code_system_id == system.id))
    assert (system.version, system.resource_id, system.hierarchy_meaning) == ("2019", "icd-10", "is-a")
    assert total == 12_542


def test_hierarchy_and_counts_in_the_catalog(catalog: Catalog) -> None:
    system = catalog.system(icd10.URL)
    kinds = Counter(e.property_values("kind")[0] for e in system.entries)
    assert (kinds["chapter"], kinds["block"]) == (22, 274)
    assert kinds["category"] + kinds["subcategory"] == 12_542 - 22 - 274
    assert sum(1 for e in system.entries if not system.children(e.code)) == 10_658
    assert system.ancestors("J18.9") == ["J18", "J09-J18", "X"]
    assert system.children("J18") == ("J18.0", "J18.1", "J18.2", "J18.8", "J18.9")
    assert system.concept("J18.9").display == "Pneumonia, unspecified"
    assert system.concept("X").property_values("notSelectable") == [True]


def test_the_codes_value_set_leaves_out_chapters_and_blocks(catalog: Catalog) -> None:
    definition = expand.definition(catalog, url=icd10.CODES_VALUE_SET)
    members = expand.members(catalog, definition)
    assert len(members.items) == 12_542 - 22 - 274
    assert (catalog.system(icd10.URL), "J18.9") in members
    assert (catalog.system(icd10.URL), "X") not in members


def test_loading_again_replaces_and_bumps_the_revision(db: Database, catalog: Catalog) -> None:
    before = catalog.system(icd10.URL)
    with db.session() as session:
        assert icd10.is_loaded(session)
        icd10.load(session)
    after = catalog.system(icd10.URL)  # the commit expired the catalog
    assert after.revision == before.revision + 1
    assert len(after.entries) == 12_542 and after.id == before.id
