"""Client rules: create, update, delete; passwords are argon2-hashed (tokens: :mod:`hub.auth.service`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.models import Client
from hub.auth.passwords import hash_password
from hub.auth.service import normalise_fingerprint, sha256_fingerprint
from hub.clients.schemas import ClientIn, ClientPatch
from hub.errors import Conflict, NotFound

if TYPE_CHECKING:
    from hub.config_file import ClientConfig


def get(session: Session, client_id: str) -> Client:
    client = session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise NotFound(f"client {client_id!r} does not exist")
    return client


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.client_id)))


def _check_fingerprint_free(session: Session, fingerprint: str | None, client_pk: int | None) -> None:
    if fingerprint is None:
        return
    owner = session.scalar(select(Client.id).where(Client.cert_fingerprint == fingerprint))
    if owner is not None and owner != client_pk:
        raise Conflict("another client already has this certificate fingerprint")


def create(session: Session, *, client_in: ClientIn, source: str = "api") -> Client:
    """Add a client; its clientID must be new."""
    if session.scalar(select(Client.id).where(Client.client_id == client_in.client_id)) is not None:
        raise Conflict(f"client {client_in.client_id!r} already exists")
    fingerprint = normalise_fingerprint(client_in.cert_fingerprint) if client_in.cert_fingerprint else None
    _check_fingerprint_free(session, fingerprint, None)
    client = Client(
        client_id=client_in.client_id,
        name=client_in.name,
        roles=client_in.roles,
        password_hash=hash_password(client_in.password) if client_in.password else None,
        cert_fingerprint=fingerprint,
        org_units=client_in.org_units,
        source=source,
    )
    session.add(client)
    session.flush()
    return client


def update(session: Session, *, client: Client, patch: ClientPatch) -> Client:
    """Change the fields given; a new password replaces the old hash."""
    if patch.name is not None:
        client.name = patch.name
    if patch.roles is not None:
        client.roles = patch.roles
    if patch.org_units is not None:
        client.org_units = patch.org_units
    if patch.enabled is not None:
        client.enabled = patch.enabled
    if patch.password is not None:
        client.password_hash = hash_password(patch.password)
    if patch.cert_fingerprint is not None:
        fingerprint = normalise_fingerprint(patch.cert_fingerprint) or None
        _check_fingerprint_free(session, fingerprint, client.id)
        client.cert_fingerprint = fingerprint
    session.flush()
    return client


def delete(session: Session, *, client: Client) -> None:
    session.delete(client)
    session.flush()


def upsert_from_config(session: Session, *, config: ClientConfig, password: str | None) -> Client:
    """Make a YAML-declared client exist as written."""
    client = session.scalar(select(Client).where(Client.client_id == config.client_id))
    if client is None:
        client = Client(client_id=config.client_id, source="config")
        session.add(client)
    client.name, client.roles, client.org_units = config.name, config.roles, config.org_units
    try:
        client.cert_fingerprint = (
            sha256_fingerprint(config.cert_fingerprint) if config.cert_fingerprint else None
        )
    except ValueError as exc:
        raise ValueError(f"client {config.client_id!r}: {exc}") from exc
    # a file that names no password takes away the one an earlier file gave
    client.password_hash = hash_password(password) if password is not None else config.password_hash
    session.flush()
    return client


def retire_from_config(session: Session, *, declared: Collection[str]) -> list[str]:
    """Delete the clients an earlier config file made that ``declared`` no longer names, with their
    tokens (the database cascades); returns their clientIDs. Clients made through the API stay."""
    retired = list(
        session.scalars(
            select(Client)
            .where(Client.source == "config", Client.client_id.not_in(declared))
            .order_by(Client.client_id)
        )
    )
    for client in retired:
        delete(session, client=client)
    return [client.client_id for client in retired]
