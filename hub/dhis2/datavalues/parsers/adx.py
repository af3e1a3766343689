"""ADX (``urn:ihe:qrph:adx:2015``): groups of values sharing data set, period and org unit.

Periods are ``start/duration`` (``2020-01-01/P1M``) and become DHIS2 periods here; other attributes
of a ``group`` or ``dataValue`` name categories with their option (``Sex="F"``), left for the
resolver to turn into option combos. DHIS2 reads ADX with the ``code`` id scheme since 2.37.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element

from hub.dhis2.datavalues import periods
from hub.dhis2.datavalues.parsers import Disaggregation, Header, Payload, RawValue
from hub.dhis2.datavalues.parsers.xml import child_text, events, first_element, local

GROUP_FIELDS = frozenset({"dataSet", "period", "orgUnit", "attributeOptionCombo", "completeDate"})
VALUE_FIELDS = frozenset({"dataElement", "value", "categoryOptionCombo"})


def _categories(attributes: dict[str, str], known: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in attributes.items() if k not in known))


def _disaggregation(attributes: dict[str, str], combo_key: str, known: frozenset[str]) -> Disaggregation:
    return attributes.get(combo_key) or _categories(attributes, known) or None


def _values(stream: Iterator[tuple[str, Element]], root: Element) -> Iterator[RawValue]:
    period = org_unit = data_set = None
    aoc: Disaggregation = None
    for event, element in stream:
        name = local(element.tag)
        if event == "start" and name == "group":
            attrs = dict(element.attrib)
            raw_period = attrs.get("period")
            # a period that names no DHIS2 period is kept as given so validation reports it (E7611)
            period = (periods.from_adx(raw_period) or raw_period) if raw_period else None
            org_unit = attrs.get("orgUnit")
            data_set = attrs.get("dataSet")
            aoc = _disaggregation(attrs, "attributeOptionCombo", GROUP_FIELDS)
        elif event == "end" and name == "dataValue":
            attrs = dict(element.attrib)
            coc = _disaggregation(attrs, "categoryOptionCombo", VALUE_FIELDS)
            comment = child_text(element, "annotation")
            yield (attrs.get("dataElement"), period, org_unit, coc, aoc, attrs.get("value"), comment, None,
                   False, False, data_set)  # fmt: skip
        elif event == "end" and name == "group":
            root.clear()


def read(source: BinaryIO, _params: dict[str, str]) -> Payload:
    stream = events(source)
    root = first_element(stream, "adx")
    return Payload(Header(grouped=True), _values(stream, root), default_id_scheme="code")
