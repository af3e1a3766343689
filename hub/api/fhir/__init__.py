"""FHIR R4 HTTP layer of the terminology service: routers only parse, call and render."""

from hub.api.fhir.outcome import install
from hub.api.fhir.router import router

__all__ = ["install", "router"]
