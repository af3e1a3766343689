"""The health interoperability hub."""
