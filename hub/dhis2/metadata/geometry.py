"""Org unit geometry: GeoJSON from 2.32, ``featureType`` + ``coordinates`` string before.

2.29 to 2.31 exports carry ``{"featureType": "POINT", "coordinates": "[-11.4,8.1]"}``; polygons
were stored as multi-polygons, four levels deep, whatever the feature type said.
"""

from __future__ import annotations

import json
import math
from typing import Any

_LEGACY_TYPES = {"Point": "POINT", "Polygon": "POLYGON", "MultiPolygon": "MULTI_POLYGON"}
# how deep each GeoJSON geometry's coordinates nest arrays above its positions
_NESTING = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def _position(value: Any) -> bool:
    """A GeoJSON position: two or three finite numbers (longitude, latitude, altitude)."""
    return (
        isinstance(value, list)
        and len(value) in (2, 3)
        and all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in value)
    )


def _nested(value: Any, depth: int) -> bool:
    if depth == 0:
        return _position(value)
    return isinstance(value, list) and all(_nested(item, depth - 1) for item in value)


def check(value: Any) -> dict[str, Any] | None:
    """``value`` if it is a GeoJSON geometry (or null), as DHIS2's reader takes an org unit's; else
    ValueError, rather than store a shape no map can draw."""
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "GeometryCollection" and isinstance(value.get("geometries"), list):
        for part in value["geometries"]:
            check(part)
        return value
    if kind not in _NESTING or not _nested(value.get("coordinates"), _NESTING[kind]):
        raise ValueError(
            f"Value `{json.dumps(value)[:80]}` is not a valid GeoJSON geometry for property `geometry`."
        )
    return value


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
