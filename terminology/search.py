"""In-memory text search over one code system's concepts, built once per code system version.

Ranking, best first:

0. the query is a code (``j189`` finds ``J18.9``: case, dots and dashes ignored);
1. the query is the start of codes (``J18`` → ``J18.0`` … ``J18.9``), shorter codes first;
2. every word of the query is in the display, in any order: exact words score above word
   prefixes (``pneu`` → pneumonia), which score above words a typo away (``pnuemonia``; two
   typos for long words: ``diarhea`` → diarrhoea); rare words weigh more than common ones;
   a display that starts with the first word (typos corrected) or holds the query as typed
   ranks higher, then shorter displays;
3. every word is found, some only in synonyms (designations);
4. some words are missing: the more found, the higher.

Common English function words ("of", "the") are ignored unless the query has nothing else.
A query costs a few dictionary look-ups per word (plus one rapidfuzz scan of the vocabulary for
a word it does not know) and one pass over the concepts it touches, so a whole-ICD-10 search
stays in the low milliseconds.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

STOPWORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to"}
)
EXACT = 1.0
SECONDARY = 0.8  # a word found only in a synonym counts for less than one in the display
FUZZY = {0: EXACT, 1: 0.65, 2: 0.5}  # by edit distance (a swap of two neighbours is one edit)
MIN_PREFIX = 2  # a one-letter prefix would match a third of the vocabulary
MIN_FUZZY = 4  # shorter words have too many neighbours one edit away
TWO_TYPOS = 7  # words this long may be two edits away ("diarhea" → "diarrhoea")
STARTS_WITH_BONUS = 0.6
CONTAINS_BONUS = 0.3

_WORD = re.compile(r"[a-z0-9]+")
_NOT_CODE_CHAR = re.compile(r"[^A-Z0-9]")


def normalise(text: str) -> str:
    """Lower case without accents, so "Gastro-entérite" matches "gastroenterite" word for word."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


def code_key(code: str) -> str:
    """``j18.9`` and ``J189`` both become ``J189``."""
    return _NOT_CODE_CHAR.sub("", code.upper())


@dataclass(frozen=True, slots=True)
class Document:
    code: str
    display: str
    synonyms: tuple[str, ...] = ()


class SearchIndex:
    """Word → concept postings with prefix and one-typo matching; see the module docstring."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self._size = len(documents)
        self._codes: dict[str, list[int]] = defaultdict(list)
        self._displays = [normalise(d.display) for d in documents]
        self._lengths = [len(_WORD.findall(d)) for d in self._displays]
        self._first_words = [next(iter(_WORD.findall(d)), "") for d in self._displays]
        self._primary: dict[str, list[int]] = defaultdict(list)
        self._secondary: dict[str, list[int]] = defaultdict(list)
        for doc, document in enumerate(documents):
            self._codes[code_key(document.code)].append(doc)
            in_display = set(_WORD.findall(self._displays[doc]))
            for word in in_display:
                self._primary[word].append(doc)
            for word in {w for s in document.synonyms for w in words(s)} - in_display:
                self._secondary[word].append(doc)
        self._code_keys = sorted(self._codes)
        self._vocabulary = sorted(self._primary.keys() | self._secondary.keys())
        self._known = frozenset(self._vocabulary)

    def __len__(self) -> int:
        return self._size

    def search(self, text: str) -> list[int]:
        """Positions of the matching documents, best first."""
        ranked = self._by_code(text)
        if ranked and any(c.isdigit() for c in text) and len(text.split()) == 1:
            # "J18.9" is a code: its digits would otherwise match every display with a 9 in it
            return sorted(ranked, key=ranked.__getitem__)
        ranked.update((doc, key) for doc, key in self._by_words(text).items() if doc not in ranked)
        return sorted(ranked, key=ranked.__getitem__)

    def _by_code(self, text: str) -> dict[int, tuple[float, ...]]:
        key = code_key(text)
        if not key:
            return {}
        found: dict[int, tuple[float, ...]] = {doc: (0, 0, 0, doc) for doc in self._codes.get(key, ())}
        if len(key) >= MIN_PREFIX and any(c.isdigit() for c in key):
            for other in self._starting_with(self._code_keys, key):
                for doc in self._codes[other]:
                    found.setdefault(doc, (1, len(other), 0, doc))
        return found

    def _by_words(self, text: str) -> dict[int, tuple[float, ...]]:
        query = words(text)
        significant = [w for w in query if w not in STOPWORDS] or query
        if not significant:
            return {}
        score: dict[int, float] = defaultdict(float)
        matched: dict[int, int] = defaultdict(int)
        in_display: dict[int, int] = defaultdict(int)
        leading: set[str] = set()  # what the first word may stand for, typo corrected
        for bit, word in enumerate(significant):
            best: dict[int, float] = {}
            matches = self._matches(word)
            if bit == 0:
                leading = set(matches)
            for term, quality in matches.items():
                for doc in self._primary.get(term, ()):
                    if quality > best.get(doc, 0.0):
                        best[doc] = quality
                    in_display[doc] |= 1 << bit
                for doc in self._secondary.get(term, ()):
                    if quality * SECONDARY > best.get(doc, 0.0):
                        best[doc] = quality * SECONDARY
            rarity = 1.0 + math.log(self._size / (1 + len(best)) + 1)
            for doc, quality in best.items():
                score[doc] += quality * rarity
                matched[doc] |= 1 << bit
        everything = (1 << len(significant)) - 1
        phrase = " ".join(query)
        ranked: dict[int, tuple[float, ...]] = {}
        for doc, total in score.items():
            if in_display[doc] == everything:
                if self._first_words[doc] in leading:
                    total += STARTS_WITH_BONUS
                if phrase in self._displays[doc]:
                    total += CONTAINS_BONUS
                tier = 2
            elif matched[doc] == everything:
                tier = 3
            else:
                tier = 4 + len(significant) - matched[doc].bit_count()
            ranked[doc] = (tier, -total, self._lengths[doc], doc)
        return ranked

    def _matches(self, word: str) -> dict[str, float]:
        """Vocabulary words ``word`` stands for, with how well each matches."""
        found: dict[str, float] = {}
        if word in self._known:
            found[word] = EXACT
        if len(word) >= MIN_PREFIX:
            for term in self._starting_with(self._vocabulary, word):
                # "pneu" is a better prefix of "pneumonia" than "pn" is
                found.setdefault(term, 0.6 + 0.3 * len(word) / len(term))
        # a word the vocabulary knows is taken as meant: "typhoid" should not also find "typhi"
        if len(word) >= MIN_FUZZY and word not in self._known:
            edits = 1 if len(word) < TWO_TYPOS else 2
            for term, distance, _ in process.extract(
                word, self._vocabulary, scorer=OSA.distance, score_cutoff=edits, limit=None
            ):
                found.setdefault(term, FUZZY[distance])
        return found

    @staticmethod
    def _starting_with(ordered: list[str], prefix: str) -> Iterable[str]:
        i = bisect_left(ordered, prefix)
        while i < len(ordered) and ordered[i].startswith(prefix):
            yield ordered[i]
            i += 1
