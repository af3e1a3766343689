"""Outbox CLI (being filled in)."""

from __future__ import annotations

import click


@click.group()
def outbox() -> None:
    """The outbox: deliveries owed to upstreams."""


@click.command()
def worker() -> None:
    """Run a standalone outbox worker."""
