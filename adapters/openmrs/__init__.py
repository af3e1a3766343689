"""OpenMRS FHIR2 and REST client."""
