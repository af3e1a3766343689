"""DHIS2-compatible Web API routers."""
