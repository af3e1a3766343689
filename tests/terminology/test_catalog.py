"""The in-memory catalog: versions, and noticing changes made in this process or another."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from hub.db.session import Database
from terminology import codesystems
from terminology.catalog import Catalog, catalog_for
from terminology.errors import UnknownCodeSystem, UnknownVersion
from terminology.models import CodeSystem

CADRE = "http://ihris.org/fhir/CodeSystem/ihris-cadre"


@pytest.fixture
def cadre(shared_data: Path) -> dict:
    return json.loads((shared_data / "ihris" / "CodeSystem-ihris-cadre.json").read_text())


def test_versions_sit_side_by_side_and_the_newest_is_the_default(db: Database, cadre: dict) -> None:
    newer = copy.deepcopy(cadre) | {"version": "6"}
    newer["concept"].append({"code": "midwife", "display": "Midwife"})
    with db.session() as session:
        codesystems.save(session, resource=cadre)
        codesystems.save(session, resource=newer)
    catalog = catalog_for(db)
    assert catalog.system(CADRE).version == "6"
    assert catalog.system(CADRE, "5").concept("midwife") is None
    assert catalog.system(CADRE).concept("midwife").display == "Midwife"
    with pytest.raises(UnknownVersion, match=r"has no version '4'.*known: '6', '5'"):
        catalog.system(CADRE, "4")
    with pytest.raises(UnknownCodeSystem, match="not known"):
        catalog.system("http://nowhere.example/cs")


def test_a_change_committed_by_another_process_is_seen_after_the_refresh_interval(
    db: Database, cadre: dict
) -> None:
    with db.session() as session:
        codesystems.save(session, resource=cadre)
    catalog = Catalog(db, refresh_s=3600)
    assert catalog.system(CADRE).title == "iHRIS Cadre"
    # a plain Core update stands in for another process: no session hook tells this catalog
    with db.engine.begin() as conn:
        conn.execute(update(CodeSystem).where(CodeSystem.url == CADRE).values(title="Cadres", revision=2))
    assert catalog.system(CADRE).title == "iHRIS Cadre"  # still fresh
    catalog.refresh_s = 0
    assert catalog.system(CADRE).title == "Cadres"


def test_unchanged_systems_keep_their_search_index(db: Database, catalog: Catalog, cadre: dict) -> None:
    icd = catalog.system("http://hl7.org/fhir/sid/icd-10")
    icd.search("cholera")
    with db.session() as session:
        codesystems.save(session, resource=cadre)
    assert catalog.system(CADRE).concept("nurse") is not None
    assert catalog.system("http://hl7.org/fhir/sid/icd-10") is icd
