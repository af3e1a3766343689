"""National health map (GIS) client."""
