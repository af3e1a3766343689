"""DXF2 XML dataValueSets (``<dataValueSet xmlns="http://dhis2.org/schema/dxf/2.0">``), read incrementally.

The parser is defusedxml's: a DOCTYPE, entity declarations or external references are refused, so
entity-expansion bombs and external entities (XXE) never reach expat's expansion or the network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from hub.dhis2.datavalues.parsers import Header, MalformedPayload, Payload, RawValue, flag


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def events(source: BinaryIO) -> Iterator[tuple[str, Element]]:
    """(event, element) pairs, turning parser and security errors into :class:`MalformedPayload`."""
    try:
        yield from iterparse(source, events=("start", "end"), forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise MalformedPayload(f"invalid XML: {exc}") from exc


def child_text(element: Element, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            return child.text
    return None


def _values(stream: Iterator[tuple[str, Element]], root: Element) -> Iterator[RawValue]:
    for event, element in stream:
        if event != "end" or local(element.tag) != "dataValue":
            continue
        get = element.attrib.get
        comment = get("comment") or child_text(element, "comment")
        yield (
            get("dataElement"), get("period"), get("orgUnit"), get("categoryOptionCombo"),
            get("attributeOptionCombo"), get("value"), comment, get("storedBy"),
            flag(get("followup")), flag(get("deleted")), None,
        )  # fmt: skip
        root.clear()  # drop parsed values so memory stays flat


def first_element(stream: Iterator[tuple[str, Element]], expected: str) -> Element:
    for event, element in stream:
        if event == "start":
            if local(element.tag) != expected:
                raise MalformedPayload(f"expected a <{expected}> document, not <{local(element.tag)}>")
            return element
    raise MalformedPayload("empty XML document")


def read(source: BinaryIO, _params: dict[str, str]) -> Payload:
    stream = events(source)
    root = first_element(stream, "dataValueSet")
    attributes: dict[str, Any] = dict(root.attrib)
    return Payload(Header.from_fields(attributes), _values(stream, root))
