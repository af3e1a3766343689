"""Clients: the systems allowed to send requests through channels."""
