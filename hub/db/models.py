"""Every model, imported so ``Base.metadata`` is complete for Alembic."""

from hub.auth.models import ApiToken, AuthLockout, Client, User
from hub.channels.models import Channel, ChannelAudit
from hub.db.base import Base
from hub.mediators.models import Mediator
from hub.outbox.models import Delivery
from hub.transactions.models import Transaction

__all__ = [
    "ApiToken",
    "AuthLockout",
    "Base",
    "Channel",
    "ChannelAudit",
    "Client",
    "Delivery",
    "Mediator",
    "Transaction",
    "User",
]
