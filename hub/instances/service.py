"""Which in-flight work has no live ``hub serve`` process left to finish it.

Every serving process has a name (``instance_name``), recorded on the transactions it opens and
the rerun task items it claims, and beats in ``hub_instances`` every ``instance_heartbeat_s``.
Work still in flight is orphaned when its instance is dead: another instance whose heartbeat is
older than ``instance_dead_after_s``, or that has no row. At start-up, so is the process's own
(its earlier incarnation crashed: nothing of it runs any more) and work without an instance
(from before migration 0011). Work of a live instance is never taken.

Heartbeats and their ages are read on one clock, the database's (:func:`hub.db.base.clock`), so replicas on
several machines judge each other alike however their own clocks drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.db.base import clock
from hub.instances.models import HubInstance
from hub.settings import Settings


@dataclass(frozen=True, slots=True)
class Orphans:
    """The rule above, for one look: ``me`` is this process's name; an instance that last beat
    before ``dead_before`` is dead; ``at_start`` adds this process's own work and untagged work."""

    me: str
    dead_before: datetime
    at_start: bool

    @classmethod
    def now(cls, session: Session, settings: Settings, *, at_start: bool) -> Orphans:
        dead_before = clock(session) - timedelta(seconds=settings.instance_dead_after_s)
        return cls(settings.instance_name, dead_before, at_start)

    def condition(self, owner: ColumnElement[str | None]) -> ColumnElement[bool]:
        """SQL: the row whose instance column is ``owner`` is orphaned (``owner`` is correlated:
        one primary-key look-up in ``hub_instances`` per row in flight)."""
        alive = exists().where(HubInstance.name == owner, HubInstance.heartbeat_at >= self.dead_before)
        if self.at_start:
            return or_(owner.is_(None), owner == self.me, ~alive)
        return and_(owner != self.me, ~alive)


def beat(session: Session, name: str, started_at: datetime, *, restart: bool) -> datetime:
    """Record that the instance ``name`` is alive now (its row made if missing, with ``started_at``;
    ``restart``: replacing the start time of an earlier incarnation). Returns the row's start time:
    another than ``started_at`` when another process has since started under the same name."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = clock(session)
    statement = insert(HubInstance).values(name=name, started_at=started_at, heartbeat_at=now)
    changed = {"heartbeat_at": now, **({"started_at": started_at} if restart else {})}
    stored: datetime = session.execute(
        statement.on_conflict_do_update(index_elements=[HubInstance.name], set_=changed).returning(
            HubInstance.started_at
        )
    ).scalar_one()
    return stored


def forget_dead(session: Session, dead_before: datetime) -> None:
    """Delete the rows of instances dead since ``dead_before`` (a missing row means dead as well,
    so nothing changes but the table's size: a replica that never comes back leaves no row)."""
    session.execute(delete(HubInstance).where(HubInstance.heartbeat_at < dead_before))


def forget(session: Session, name: str) -> None:
    """Delete the row of the instance ``name``, which has no work in flight left."""
    session.execute(delete(HubInstance).where(HubInstance.name == name))
