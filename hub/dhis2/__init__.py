"""DHIS2 inside the hub: the metadata cache, a DHIS2-compatible Web API and data value flows."""
