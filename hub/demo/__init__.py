"""Demo configuration used by ``scripts/demo``."""
