"""iHRIS 5 / mCSD FHIR client."""
