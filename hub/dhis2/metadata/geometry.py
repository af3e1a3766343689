"""Org unit geometry: GeoJSON from 2.32, ``featureType`` + ``coordinates`` string before.

2.29 to 2.31 exports carry ``{"featureType": "POINT", "coordinates": "[-11.4,8.1]"}``; polygons
were stored as multi-polygons, four levels deep, whatever the feature type said.
"""

from __future__ import annotations

import json
from typing import Any

_LEGACY_TYPES = {"Point": "POINT", "Polygon": "POLYGON", "MultiPolygon": "MULTI_POLYGON"}


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        depth += 1
        value = value[0]
    return depth


def from_legacy(feature_type: str | None, coordinates: str | None) -> dict[str, Any] | None:
    """GeoJSON for a pre-2.32 ``featureType``/``coordinates`` pair; None when there is no shape.

    ValueError when the coordinates are not the nested JSON arrays DHIS2 wrote.
    """
    if not coordinates or (feature_type or "NONE") == "NONE":
        return None
    if not isinstance(coordinates, str):
        raise ValueError(f"coordinates must be text (JSON arrays), not {type(coordinates).__name__}")
    try:
        parsed = json.loads(coordinates)
    except (json.JSONDecodeError, RecursionError) as exc:  # nested past the decoder's depth: no shape
        raise ValueError(f"coordinates are not a JSON array: {coordinates[:60]!r}") from exc
    depth = _depth(parsed)
    if depth == 1 and len(parsed) == 2:
        return {"type": "Point", "coordinates": parsed}
    if depth == 3:
        return {"type": "Polygon", "coordinates": parsed}
    if depth == 4:
        if feature_type == "POLYGON" and len(parsed) == 1:
            return {"type": "Polygon", "coordinates": parsed[0]}
        return {"type": "MultiPolygon", "coordinates": parsed}
    raise ValueError(f"coordinates nested {depth} deep are neither a point nor a polygon")


def to_legacy(geometry: dict[str, Any] | None) -> dict[str, Any]:
    """The pre-2.32 ``featureType``/``coordinates`` fields for a GeoJSON geometry."""
    if not geometry or geometry.get("type") not in _LEGACY_TYPES:
        return {"featureType": "NONE"}
    kind = geometry["type"]
    coordinates = geometry["coordinates"]
    if kind == "Polygon":
        coordinates = [coordinates]
    return {"featureType": _LEGACY_TYPES[kind], "coordinates": json.dumps(coordinates, separators=(",", ":"))}
