"""DHIS2 Web API client (version-aware: 2.29 to 2.42)."""
