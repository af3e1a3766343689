"""Terminology service: code systems, concept maps, FHIR terminology operations."""
