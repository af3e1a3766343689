"""Channel rules: create/update/delete with an audit row each, YAML sync, and request matching."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import regex
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.channels.models import Channel, ChannelAudit
from hub.channels.patterns import compiled, within_limit
from hub.channels.schemas import ChannelOut, ChannelSpec
from hub.errors import Conflict, MethodNotAllowed, NotFound, UnsupportedMediaType

log = logging.getLogger("hub.channels")

SPEC_FIELDS = tuple(ChannelSpec.model_fields)


def to_spec(channel: Channel) -> ChannelSpec:
    return ChannelSpec.model_validate({f: getattr(channel, f) for f in SPEC_FIELDS})


def to_out(channel: Channel) -> ChannelOut:
    return ChannelOut.model_validate(
        {
            **{f: getattr(channel, f) for f in SPEC_FIELDS},
            "id": channel.id,
            "source": channel.source,
            "version": channel.version,
        }
    )


def _document(spec: ChannelSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def _audit(
    session: Session,
    channel: Channel | None,
    name: str,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        ChannelAudit(
            channel_pk=channel.id if channel else None,
            channel_name=name,
            action=action,
            actor=actor,
            before=before,
            after=after,
        )
    )


def get_by_name(session: Session, name: str) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.name == name))
    if channel is None:
        raise NotFound(f"channel {name!r} does not exist")
    return channel


def list_channels(session: Session) -> list[Channel]:
    return list(session.scalars(select(Channel).order_by(Channel.priority.desc(), Channel.name)))


def create(session: Session, *, spec: ChannelSpec, actor: str, source: str = "api") -> Channel:
    """Add a channel; its name must be new."""
    if session.scalar(select(Channel.id).where(Channel.name == spec.name)) is not None:
        raise Conflict(f"channel {spec.name!r} already exists")
    channel = Channel(**_document(spec), source=source)
    session.add(channel)
    session.flush()
    _audit(session, channel, spec.name, "create", actor, None, _document(spec))
    session.flush()
    return channel


def update(session: Session, *, channel: Channel, spec: ChannelSpec, actor: str) -> Channel:
    """Replace a channel's definition; an unchanged definition writes nothing."""
    before = _document(to_spec(channel))
    after = _document(spec)
    if before == after:
        return channel
    if (
        spec.name != channel.name
        and session.scalar(select(Channel.id).where(Channel.name == spec.name)) is not None
    ):
        raise Conflict(f"channel {spec.name!r} already exists")
    for key, value in after.items():
        setattr(channel, key, value)
    channel.version += 1
    _audit(session, channel, spec.name, "update", actor, before, after)
    session.flush()
    return channel


def delete(session: Session, *, channel: Channel, actor: str) -> None:
    _audit(session, None, channel.name, "delete", actor, _document(to_spec(channel)), None)
    session.delete(channel)
    session.flush()


def upsert(session: Session, *, spec: ChannelSpec, actor: str, source: str) -> Channel:
    """Create or update by name (YAML sync, mediator default channels)."""
    existing = session.scalar(select(Channel).where(Channel.name == spec.name))
    if existing is None:
        return create(session, spec=spec, actor=actor, source=source)
    return update(session, channel=existing, spec=spec, actor=actor)


CONFIG_ACTOR = "config-file"  # who the audit names for changes the YAML file makes


def sync_from_config(session: Session, specs: Iterable[ChannelSpec]) -> list[Channel]:
    """Make the config file's channels exist as written; channels made by the API are untouched."""
    return [upsert(session, spec=spec, actor=CONFIG_ACTOR, source="config") for spec in specs]


def retire_from_config(session: Session, *, declared: Collection[str]) -> list[str]:
    """Delete, with an audit row each, the channels an earlier config file made that ``declared`` no
    longer names; returns their names. Channels made through the API or by mediators stay."""
    retired = list(
        session.scalars(
            select(Channel)
            .where(Channel.source == "config", Channel.name.not_in(declared))
            .order_by(Channel.name)
        )
    )
    for channel in retired:
        delete(session, channel=channel, actor=CONFIG_ACTOR)
    return [channel.name for channel in retired]


def audit_log(session: Session, *, name: str | None = None, limit: int = 100) -> list[ChannelAudit]:
    query = select(ChannelAudit).order_by(ChannelAudit.id.desc()).limit(limit)
    if name:
        query = query.where(ChannelAudit.channel_name == name)
    return list(session.scalars(query))


def fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever any channel changes: lets every process know when to reload its table."""
    return tuple(
        session.execute(
            select(func.count(Channel.id), func.max(Channel.updated_at), func.sum(Channel.version))
        ).one()
    )


# -- matching ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledChannel:
    id: int
    name: str
    pattern: regex.Pattern[str]
    methods: frozenset[str]
    content_types: tuple[str, ...]  # lower case, as the schema keeps them
    allowed_roles: frozenset[str]
    public: bool
    spec: ChannelSpec

    def matches(self, path: str) -> bool:
        """Whether the pattern matches the whole path; a match that runs out of time does not."""
        try:
            return within_limit(lambda timeout: self.pattern.fullmatch(path, timeout=timeout)) is not None
        except TimeoutError:
            log.warning("channel pattern ran out of time; taken as no match", extra={"channel": self.name})
            return False

    def accepts_content_type(self, content_type: str | None) -> bool:
        if not self.content_types:
            return True
        return (content_type or "").split(";", 1)[0].strip().lower() in self.content_types


def _compiled(channel: Channel) -> CompiledChannel:
    spec = to_spec(channel)
    return CompiledChannel(
        channel.id,
        spec.name,
        compiled(spec.url_pattern, "url_pattern"),
        frozenset(spec.methods),
        tuple(spec.content_types),
        frozenset(spec.allowed_roles),
        spec.public,
        spec,
    )


class ChannelTable:
    """Enabled channels compiled once, highest priority first."""

    def __init__(self, channels: Iterable[Channel]) -> None:
        self.entries = [_compiled(c) for c in channels if c.enabled]

    def match(self, method: str, path: str, content_type: str | None) -> CompiledChannel:
        """The first channel whose pattern matches the whole path and that takes the method and the
        content type, as OpenHIM matches (two channels may serve one path, each its own type); a
        415 when channels take the path and method but none the type, a 405 when none the method."""
        path_matched: list[CompiledChannel] = []
        refused_type: CompiledChannel | None = None
        for entry in self.entries:
            if entry.matches(path):
                if method not in entry.methods:
                    path_matched.append(entry)
                elif entry.accepts_content_type(content_type):
                    return entry
                else:
                    refused_type = refused_type or entry
        if refused_type is not None:
            types = ", ".join(refused_type.content_types)  # before authentication: no channel named
            raise UnsupportedMediaType(
                f"{path} takes {types}, not {content_type or 'a request without a content type'}"
            )
        if path_matched:
            allowed = sorted(set().union(*(e.methods for e in path_matched)))
            raise MethodNotAllowed(
                f"{method} is not allowed on {path}", headers={"Allow": ", ".join(allowed)}
            )
        raise NotFound(f"no channel matches {path}")
