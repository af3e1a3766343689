"""Python counterpart of the npm package ``openhim-mediator-utils``: register, heartbeat, fetch config,
and build ``application/json+openhim`` responses.

Works against the hub and against OpenHIM core alike::

    from mediators import openhim

    openhim.register_mediator(api_url, ("admin@example.org", password), MEDIATOR)
    config = openhim.fetch_config(api_url, auth, MEDIATOR["urn"])
    beat = openhim.activate_heartbeat(api_url, auth, MEDIATOR["urn"], on_config=apply)
    ...
    beat.stop()
"""

from mediators.openhim.api import OpenHIMError, fetch_config, register_mediator, send_heartbeat
from mediators.openhim.heartbeat import Heartbeat, activate_heartbeat
from mediators.openhim.response import CONTENT_TYPE, build_response, encode, orchestration

__all__ = [
    "CONTENT_TYPE",
    "Heartbeat",
    "OpenHIMError",
    "activate_heartbeat",
    "build_response",
    "encode",
    "fetch_config",
    "orchestration",
    "register_mediator",
    "send_heartbeat",
]
