"""Stream a DHIS2 metadata export object by object: exports of whole countries do not fit in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import ijson

from hub.json_text import LoneSurrogateError, SurrogateCheckedReader

MetadataObject = tuple[str, dict[str, Any]]


class ExportError(ValueError):
    """The export is not well-formed JSON."""


def read_export(stream: IO[bytes]) -> Iterator[MetadataObject]:
    """``(type key, object)`` for each object in an export ``{"dataElements": [{...}], ...}``, in file order.

    Top-level keys that are not lists of objects (``system``, ``date``) are skipped;
    :class:`ExportError` if the JSON breaks off or is malformed, is not UTF-8, or holds a lone
    surrogate escape (``"\\ud800"`` without its pair: yajl would make it ``?``; checked as it is read).
    """
    try:
        yield from _objects(ijson.parse(SurrogateCheckedReader(stream), use_float=True))
    except (ijson.JSONError, LoneSurrogateError) as exc:
        raise ExportError(f"the metadata export is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ExportError(f"the metadata export is not UTF-8 text: {exc}") from exc


def _objects(events: Iterator[tuple[str, str, Any]]) -> Iterator[MetadataObject]:
    key: str | None = None
    builder: ijson.ObjectBuilder | None = None
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            if event == "end_map" and prefix == f"{key}.item":
                yield key, builder.value
                builder = None
        elif event == "start_map" and prefix.endswith(".item") and prefix.count(".") == 1:
            key = prefix[: -len(".item")]
            builder = ijson.ObjectBuilder()
            builder.event(event, value)


def from_document(document: dict[str, Any]) -> Iterator[MetadataObject]:
    """The same for an export already parsed (a page the sync fetched)."""
    for key, items in document.items():
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    yield key, item
