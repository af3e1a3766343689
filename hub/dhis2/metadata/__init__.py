"""The DHIS2 metadata cache: models, import from exports and sync, read queries."""
