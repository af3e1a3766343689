"""Grouping codes for aggregate reporting: code → block → chapter, and counts rolled up."""

from __future__ import annotations

import pytest

from terminology import grouping
from terminology.catalog import Catalog
from terminology.errors import InvalidParameter, UnknownCode
from tests.terminology.conftest import ICD


def test_groups_of_a_code(catalog: Catalog) -> None:
    icd = catalog.system(ICD)
    assert grouping.groups(icd, "J18.9") == {"category": "J18", "block": "J09-J18", "chapter": "X"}
    assert grouping.groups(icd, "J09-J18") == {"chapter": "X"}
    with pytest.raises(UnknownCode):
        grouping.groups(icd, "J18.99")


def test_counts_roll_up_to_blocks_and_chapters(catalog: Catalog) -> None:
    icd = catalog.system(ICD)
    counts = [("J18.9", 7), ("J15.1", 2), ("A09.0", 5), ("A00", 1), ("J09-J18", 4), ("Q99.99", 3)]
    blocks = grouping.rollup(icd, counts, level="block")
    chapters = grouping.rollup(icd, counts, level="chapter")
    assert blocks.totals == {"J09-J18": 7 + 2 + 4, "A00-A09": 5 + 1}
    assert chapters.totals == {"X": 13, "I": 6}
    assert blocks.unknown == {"Q99.99": 3} and blocks.ungrouped == {}
    with pytest.raises(InvalidParameter, match="has no 'ward' level"):
        grouping.rollup(icd, counts, level="ward")
