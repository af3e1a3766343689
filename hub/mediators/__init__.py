"""The OpenHIM-compatible mediator registry."""
