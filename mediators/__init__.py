"""Mediators: small services that sit behind hub channels and speak OpenHIM's mediator protocol."""
