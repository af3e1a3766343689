"""``python -m mediators.echo``: register, fetch config, heartbeat, serve until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from mediators import openhim
from mediators.echo.app import URN, EchoServer, registration

log = logging.getLogger("mediators.echo")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mediators.echo", description=__doc__)
    parser.add_argument("--api-url", required=True, help="core API base URL, e.g. https://hub:5001")
    parser.add_argument("--username", default=os.environ.get("OPENHIM_USERNAME"), help="API user (e-mail)")
    parser.add_argument(
        "--password",
        default=os.environ.get("OPENHIM_PASSWORD"),
        help="API password; prefer the OPENHIM_PASSWORD environment variable (argv is visible to ps)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--public-host", help="host the hub should call (default: --host)")
    parser.add_argument("--urn", default=URN)
    parser.add_argument("--heartbeat-s", type=float, default=10.0, help="seconds between heartbeats")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the API's TLS certificate (self-signed, dev)"
    )
    args = parser.parse_args(argv)
    if not args.username or not args.password:
        parser.error("give --username and --password (or OPENHIM_USERNAME / OPENHIM_PASSWORD)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    auth = (args.username, args.password)
    verify = not args.insecure
    server = EchoServer((args.host, args.port), args.urn)
    mediator = registration(host=args.public_host or args.host, port=server.server_port, urn=args.urn)
    try:
        openhim.register_mediator(args.api_url, auth, mediator, verify=verify)
        server.configure(openhim.fetch_config(args.api_url, auth, args.urn, verify=verify))
    except openhim.OpenHIMError as exc:
        server.server_close()
        # Fail fast: a supervisor (systemd, compose) restarts us once core is reachable.
        sys.exit(f"echo mediator: cannot register: {exc}")
    heartbeat = openhim.activate_heartbeat(
        args.api_url, auth, args.urn, on_config=server.configure, interval_s=args.heartbeat_s, verify=verify
    )
    # SystemExit unwinds serve_forever in this thread, so the finally below always runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("echo mediator %s listening on %s:%s", args.urn, args.host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        heartbeat.stop()
        server.server_close()


if __name__ == "__main__":
    main()
