"""Every model, imported so ``Base.metadata`` is complete for Alembic."""

from hub.auth.models import ApiToken, AuthLockout, Client, CredentialRevision, User
from hub.channels.models import Channel, ChannelAudit
from hub.db.base import Base
from hub.dhis2.datavalues import models as dhis2_datavalues  # noqa: F401
from hub.dhis2.metadata import models as dhis2_metadata  # noqa: F401
from hub.instances.models import HubInstance
from hub.mediators.models import Mediator
from hub.outbox.models import Delivery
from hub.tasks.models import RerunTask, RerunTaskItem
from hub.transactions.models import Transaction
from terminology import models as terminology_models  # noqa: F401

__all__ = [
    "ApiToken",
    "AuthLockout",
    "Base",
    "Channel",
    "ChannelAudit",
    "Client",
    "CredentialRevision",
    "Delivery",
    "HubInstance",
    "Mediator",
    "RerunTask",
    "RerunTaskItem",
    "Transaction",
    "User",
]
