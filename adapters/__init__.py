"""Typed clients for external systems, one package each (DHIS2, iHRIS, OpenMRS, health map)."""
