"""Mediator registry rules as OpenHIM core applies them: registration, heartbeats, config, channels."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.channels import service as channel_service
from hub.channels.models import Channel
from hub.channels.schemas import ChannelSpec
from hub.db.base import utcnow
from hub.db.session import Database
from hub.errors import BadRequest, Conflict, NotFound
from hub.mediators.models import Mediator
from hub.mediators.schemas import (
    CHANNEL_SOURCE_PREFIX,
    MASK,
    ConfigDef,
    HeartbeatIn,
    MediatorIn,
    MediatorOut,
    OpenHIMChannel,
    OpenHIMRoute,
    by_param,
    check_config,
    fits,
    mask_passwords,
    restore_passwords,
    semver_key,
    unrestored_masks,
)
from hub.metrics import GaugeReader


def _defs(mediator: Mediator) -> list[ConfigDef]:
    return [ConfigDef.model_validate(d) for d in mediator.config_defs]


def to_out(mediator: Mediator) -> MediatorOut:
    """The mediator in OpenHIM's shape, passwords masked."""
    return MediatorOut.model_validate(
        {
            "urn": mediator.urn,
            "version": mediator.version,
            "name": mediator.name,
            "description": mediator.description,
            "endpoints": mediator.endpoints,
            "defaultChannelConfig": mediator.default_channel_config,
            "configDefs": mediator.config_defs,
            "config": mask_passwords(_defs(mediator), mediator.config),
            "_lastHeartbeat": mediator.last_heartbeat_at,
            "_uptime": mediator.uptime_s,
        }
    )


def list_mediators(session: Session) -> list[Mediator]:
    return list(session.scalars(select(Mediator).order_by(Mediator.urn)))


ALIVE = timedelta(seconds=60)  # OpenHIM core counts a mediator up when it beat within the last minute


def uptimes(session: Session) -> dict[str, float | None]:
    """Each mediator's last reported uptime, or None when it has not beaten within :data:`ALIVE`."""
    now = utcnow()
    rows = session.execute(
        select(Mediator.urn, Mediator.last_heartbeat_at, Mediator.uptime_s).order_by(Mediator.urn)
    ).all()
    return {
        urn: uptime if last is not None and uptime is not None and now - last <= ALIVE else None
        for urn, last, uptime in rows
    }


def get(session: Session, urn: str, *, for_update: bool = False) -> Mediator:
    """The mediator with this URN; ``for_update`` locks its row until the transaction ends."""
    mediator = session.get(Mediator, urn, with_for_update=for_update)
    if mediator is None:
        raise NotFound(f"mediator {urn!r} is not registered")
    return mediator


def _definition(mediator: MediatorIn) -> dict[str, Any]:
    """The registration's columns, each list stored in OpenHIM's camelCase shape: only those it
    sent, and no endpoints when it sent none. OpenHIM core upgrades with findByIdAndUpdate, which
    sets only the fields given, so an upgrade that leaves out its description, defaultChannelConfig
    or configDefs (and the config those defs describe) keeps the stored ones."""

    def dump(items: Iterable[Any]) -> list[dict[str, Any]]:
        return [i.model_dump(mode="json", by_alias=True, exclude_none=True) for i in items]

    optional = {
        "description": mediator.description,
        "default_channel_config": dump(mediator.default_channel_config),
        "config_defs": dump(mediator.config_defs),
        "endpoints": dump(mediator.endpoints),
    }
    sent = mediator.model_fields_set - (set() if mediator.endpoints else {"endpoints"})
    return {
        "version": mediator.version,
        "name": mediator.name,
        **{k: v for k, v in optional.items() if k in sent},
    }


def _kept_config(
    defs: list[ConfigDef], registered: dict[str, Any] | None, stored: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Values already set outlive an upgrade wherever the new defs still accept them; new params take
    the registered defaults."""
    if stored is None:
        return registered
    described = by_param(defs)
    kept = {k: v for k, v in stored.items() if k in described and fits(described[k], v)}
    return {**(registered or {}), **kept}


def register(session: Session, *, mediator: MediatorIn) -> Mediator:
    """Add a mediator, or upgrade it to a higher version; the same or a lower version changes nothing."""
    existing = session.get(Mediator, mediator.urn, with_for_update=True)
    if existing is None:
        if not mediator.endpoints:
            raise BadRequest("a new mediator needs at least one entry in endpoints")
        row = Mediator(
            urn=mediator.urn, config=mediator.config, config_pending=False, **_definition(mediator)
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # Another replica of this mediator registered it meanwhile: carry on as a re-registration.
            existing = get(session, mediator.urn, for_update=True)
        else:
            return row
    if semver_key(mediator.version) <= semver_key(existing.version):
        return existing
    for key, value in _definition(mediator).items():
        setattr(existing, key, value)
    config = _kept_config(_defs(existing), mediator.config, existing.config)
    # The mediator just announced its defaults; if the admin's values differ, its next heartbeat says so.
    existing.config_pending = existing.config_pending or config != mediator.config
    existing.config = config
    session.flush()
    return existing


def remove(session: Session, *, urn: str) -> None:
    session.delete(get(session, urn))
    session.flush()


def heartbeat(session: Session, *, urn: str, beat: HeartbeatIn) -> dict[str, Any] | None:
    """Record the beat; answer the config when it changed since the last beat or was asked for."""
    mediator = get(session, urn, for_update=True)
    send = mediator.config_pending or beat.config
    mediator.last_heartbeat_at = utcnow()
    mediator.uptime_s = beat.uptime
    mediator.config_pending = False
    session.flush()
    return (mediator.config or {}) if send else None


def set_config(session: Session, *, urn: str, config: dict[str, Any]) -> Mediator:
    """Replace the config after checking it against the defs; masked passwords keep their stored value."""
    mediator = get(session, urn, for_update=True)
    defs = _defs(mediator)
    config = copy.deepcopy(config)
    restore_passwords(defs, config, mediator.config)
    try:
        check_config(defs, config)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    masked = unrestored_masks(defs, config)
    if masked:
        raise BadRequest(
            f"password param(s) {', '.join(masked)} hold the mask {MASK!r} but no stored password is "
            "there to keep: send the password itself"
        )
    mediator.config = config
    mediator.config_pending = True
    session.flush()
    return mediator


# -- default channels --------------------------------------------------------------------------------


def _url_pattern(pattern: str) -> str:
    """OpenHIM searches the path with its pattern, the hub matches the whole path."""
    anchored = pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")
    if anchored and "|" not in pattern:
        return pattern
    return f".*(?:{pattern}).*"


def _route(route: OpenHIMRoute, *, only: bool) -> dict[str, Any]:
    if route.type != "http":
        raise BadRequest(f"route {route.name!r} is of type {route.type}; the hub routes only http")
    if route.username or route.password:
        raise BadRequest(
            f"route {route.name!r} carries credentials; the hub reads upstream secrets from the "
            "environment: add the channel through /admin/channels with auth.secret_env"
        )
    return {
        "name": route.name,
        "url": f"{'https' if route.secured else 'http'}://{route.host}:{route.port}",
        "primary": route.primary or only,
        "path": route.path or None,
        "path_transform": route.path_transform or None,
        "forward_auth": route.forward_auth_header,
    }


OPENHIM_PRIORITY_BASE = 1_000_000  # hub priority of a channel OpenHIM would try at priority 0


def hub_priority(openhim_priority: int | None) -> int:
    """OpenHIM tries channels with a priority first, 1 before 2, then those without; the hub tries
    the highest number first, 0 by default. So priority p becomes BASE - p (at least 1, still ahead
    of every unprioritised channel) and no priority stays 0."""
    return max(1, OPENHIM_PRIORITY_BASE - openhim_priority) if openhim_priority else 0


def to_channel_spec(channel: OpenHIMChannel) -> ChannelSpec:
    """The hub's channel for an OpenHIM channel document; 400 for what the hub cannot honour."""
    if channel.type != "http":
        raise BadRequest(f"channel {channel.name!r} is of type {channel.type}; the hub serves only http")
    routes = [r for r in channel.routes if r.status == "enabled"]
    doc: dict[str, Any] = {
        "name": channel.name,
        "description": channel.description,
        "url_pattern": _url_pattern(channel.url_pattern),
        "content_types": channel.match_content_types,
        "allowed_roles": channel.allow,
        "public": channel.auth_type == "public",
        "priority": hub_priority(channel.priority),
        "routes": [_route(r, only=len(routes) == 1) for r in routes],
        "timeout_s": channel.timeout / 1000 if channel.timeout else None,
        "body_policy": {"store_request": channel.request_body, "store_response": channel.response_body},
        "enabled": channel.status == "enabled",
    }
    if channel.methods:
        doc["methods"] = channel.methods
    try:
        return ChannelSpec.model_validate(doc)
    except ValidationError as exc:
        raise _not_installable(channel.name, exc) from exc


def _not_installable(name: str, exc: ValidationError) -> BadRequest:
    problems = "; ".join(e["msg"] for e in exc.errors())
    return BadRequest(f"default channel {name!r} cannot be installed: {problems}")


def _stored_channel_spec(doc: dict[str, Any]) -> ChannelSpec:
    """A stored default channel as the hub's; one stored before a rule tightened (a priority
    below 1) is a 400, not a 500."""
    try:
        channel = OpenHIMChannel.model_validate(doc)
    except ValidationError as exc:
        raise _not_installable(doc.get("name", ""), exc) from exc
    return to_channel_spec(channel)


def install_channels(session: Session, *, urn: str, names: list[str], actor: str) -> list[Channel]:
    """Create or update the named default channels (all of them when ``names`` is empty)."""
    available = {c["name"]: c for c in get(session, urn).default_channel_config}
    wanted = names or list(available)
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise BadRequest(f"not in the defaultChannelConfig of {urn}: {', '.join(unknown)}")
    # Convert all before writing any, so one bad channel installs none.
    specs = [_stored_channel_spec(available[n]) for n in wanted]
    source = CHANNEL_SOURCE_PREFIX + urn
    # Reinstalling updates this mediator's own channels in place; a channel of that name that an admin,
    # the config file or another mediator made is not this mediator's to overwrite (OpenHIM core refuses
    # a duplicate name too).
    foreign = session.execute(
        select(Channel.name, Channel.source)
        .where(Channel.name.in_([s.name for s in specs]), Channel.source != source)
        .order_by(Channel.name)
    ).all()
    if foreign:
        owners = ", ".join(f"{name!r} (source {owner})" for name, owner in foreign)
        raise Conflict(f"channels of the same name exist and were not installed by {urn}: {owners}")
    return [channel_service.upsert(session, spec=spec, actor=actor, source=source) for spec in specs]


# -- metrics -----------------------------------------------------------------------------------------


def gauges(db: Database) -> GaugeReader:
    """A scrape-time reader of seconds since each mediator's last heartbeat."""

    def read() -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "hub_mediator_heartbeat_age_seconds",
            "Seconds since the mediator's last heartbeat (since it registered, when none came yet)",
            labels=["urn"],
        )
        with db.session() as session:
            rows = session.execute(
                select(Mediator.urn, func.coalesce(Mediator.last_heartbeat_at, Mediator.created_at))
            ).all()
        now = utcnow()
        for urn, last in rows:
            family.add_metric([urn], (now - last).total_seconds())
        yield family

    return read
