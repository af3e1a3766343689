"""An example mediator: echoes each request back as an OpenHIM mediator response.

Run it next to a hub (or OpenHIM core)::

    OPENHIM_PASSWORD=... python -m mediators.echo --api-url https://hub:5001 \\
        --username admin@example.org --port 8500

It registers itself, fetches its config, heartbeats, and answers every request
with ``application/json+openhim``: the transaction status from its ``status``
config and one orchestration describing the echo.
"""
