"""DHIS2 aggregate data values: parse dataValueSets in every format, validate as DHIS2 does, store with
provenance and queue them to the configured DHIS2 targets."""
