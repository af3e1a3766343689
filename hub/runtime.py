"""The long-lived objects one hub process shares: settings, database, authenticator, upstream client,
the transaction log writer, channels."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.auth.cache import CredentialCache
from hub.auth.models import credential_revision
from hub.auth.service import Authenticator, LockoutPolicy
from hub.channels import service as channel_service
from hub.channels.service import ChannelTable
from hub.db.session import Database
from hub.gateway.forward import Upstream
from hub.gateway.log_writer import LogWriter
from hub.settings import Settings

# allocations between young-generation collections (CPython's default: 700)
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """For a server process, once everything is imported: take the objects alive now (modules,
    models, schemas: ~280,000 in ``hub serve``) out of the cyclic collector's way, and collect young
    objects less often. A request's garbage is freed by reference counting; the collector only
    looks for cycles, and walking the start-up heap on every full collection cost the hub ~15% of
    its time under load (``docs/benchmarks.md``)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@dataclass
class Runtime:
    settings: Settings
    db: Database
    authenticator: Authenticator
    upstream: Upstream = field(repr=False)
    log_writer: LogWriter = field(repr=False)
    channels: ChannelTable = field(default_factory=lambda: ChannelTable([]))
    _channels_seen: tuple[Any, ...] | None = None
    _credentials_seen: int | None = None

    @classmethod
    def create(cls, settings: Settings, db: Database | None = None) -> Runtime:
        cache = CredentialCache(settings.secret_key.get_secret_value().encode(), settings.auth_cache_ttl_s)
        policy = LockoutPolicy(
            settings.auth_max_failures, settings.auth_lockout_s, settings.auth_max_failures_per_name
        )
        db = db or Database(settings.database_url)
        log_writer = LogWriter(db, settings.instance_name)
        return cls(settings, db, Authenticator(db, cache, policy), Upstream(), log_writer)

    def reload_channels(self, session: Session | None = None, *, force: bool = False) -> bool:
        """Recompile the channel table when any channel changed (in this process or another).

        Given the session that made a change, the table reflects it before the caller answers.
        """
        if session is None:
            with self.db.session() as own:
                return self.reload_channels(own, force=force)
        seen = channel_service.fingerprint(session)
        if not force and seen == self._channels_seen:
            return False
        self.channels = ChannelTable(channel_service.list_channels(session))
        self._channels_seen = seen
        return True

    def refresh(self) -> None:
        """Catch up with what other processes changed (blocking; every few seconds): the channel
        table, and the credential cache, forgotten when users, clients or tokens changed."""
        with self.db.session() as session:
            self.reload_channels(session)
            seen = credential_revision(session)
        if seen != self._credentials_seen:
            self.authenticator.cache.clear()
            self._credentials_seen = seen

    def credentials_changed(self, session: Session) -> None:
        """Forget cached credentials once ``session``, which changed a client, user or token, commits:
        forgotten any earlier, a request arriving in between could cache the old credential again.
        (Other processes forget them at their next :meth:`refresh`.)"""
        event.listen(session, "after_commit", lambda _: self.authenticator.cache.clear(), once=True)

    async def aclose(self) -> None:
        await self.upstream.aclose()
        await to_thread.run_sync(self.log_writer.stop)
        self.db.dispose()
