"""The catch-all HTTP endpoint: match a channel, authenticate, authorise, read the body, run the pipeline."""

from __future__ import annotations

import logging
import re
import string
import time
from urllib.parse import quote, quote_from_bytes

from multidict import MultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from hub import metrics
from hub.auth.principal import Principal
from hub.auth.service import CHALLENGE, client_address
from hub.channels.service import CompiledChannel
from hub.errors import (
    BadRequest,
    Forbidden,
    HubError,
    PayloadTooLarge,
    Unauthenticated,
)
from hub.gateway.forward import GatewayRequest, check_paths, combined
from hub.gateway.pipeline import process, request_cap
from hub.logs import request_id
from hub.runtime import Runtime

log = logging.getLogger("hub.gateway")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# RFC 3986 path characters besides letters and digits, and "%" so that a client's escapes pass unchanged
PATH_CHARACTERS = "/!$&'()*+,;=:@%-._~"
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# "." or ".." between separators; a backslash counts, as some upstreams read it as "/"
DOT_SEGMENT = re.compile(r"[/\\]\.\.?(?=[/\\]|$)")


async def authenticate_client(runtime: Runtime, request: Request) -> Principal:
    """A client by certificate, bearer token or Basic, in that order."""
    auth = runtime.authenticator
    authorization = request.headers.get("authorization", "")
    principal = await auth.certificate_client(request.scope, other_credentials=bool(authorization))
    if principal is not None:
        return principal
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential:
        principal = await auth.checked("bearer", credential.strip(), auth.bearer)
        if principal.kind != "client":
            raise Forbidden("admin-user tokens cannot call channels; use a client's token")
        return principal
    if scheme.lower() == "basic" and credential:
        # the address only matters when the credential is checked, not when the cache answers
        check = lambda c: auth.basic_client(c, client_address(request.scope))  # noqa: E731
        return await auth.checked("basic-client", credential.strip(), check)
    raise Unauthenticated("authentication required", headers=CHALLENGE)


def authorise(channel: CompiledChannel, principal: Principal) -> None:
    """As OpenHIM's ``allow`` list: a client passes by one of its roles or by its own client id."""
    allowed = channel.allowed_roles
    if principal.roles & allowed or (principal.kind == "client" and principal.name in allowed):
        return
    raise Forbidden(
        f"client {principal.name!r} has none of the roles channel {channel.name!r} allows, "
        "nor is its client id allowed"
    )


async def read_body(request: Request, cap: int) -> bytes:
    """Read at most ``cap`` bytes; a bigger body is refused as soon as it passes the cap."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"request body of {declared} bytes is over this channel's limit of {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:  # the ASGI messages themselves: Request.stream() adds a generator per request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            # nothing was logged or forwarded yet: the client gave up, which is not a hub error
            raise BadRequest("the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(f"request body is over this channel's limit of {cap} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _header_value(raw: bytes) -> str:
    """A header value as text: its UTF-8 when it is valid UTF-8, which aiohttp sends upstream as the
    very bytes received; else Latin-1, a character per byte (aiohttp encodes text as UTF-8, so a
    value that is not UTF-8 cannot reach the upstream byte for byte whatever it is read as)."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers, one field per name (ASGI gives them lower-cased): a name sent on
    several lines has its values joined (:func:`combined`); values read by :func:`_header_value`,
    so one sent in UTF-8 is forwarded as sent and logged as the text it is."""
    lines = scope["headers"]
    try:
        headers = {k.decode("latin-1"): v.decode() for k, v in lines}
    except UnicodeDecodeError:
        return combined((k.decode("latin-1"), _header_value(v)) for k, v in lines)
    if len(headers) < len(lines):
        return combined((k.decode("latin-1"), v.decode()) for k, v in lines)
    return headers


def url_path(scope: Scope) -> str:
    """The request's decoded path as ``Request.url.path`` gives it, without building the whole URL:
    what channel patterns are matched against."""
    return str(scope["path"]).replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _unreserved(escape: re.Match[str]) -> str:
    char = chr(int(escape[0][1:], 16))
    return char if char in UNRESERVED else escape[0]


def raw_url_path(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded (``/a%2Fb`` stays ``/a%2Fb``): what
    is rewritten, logged and forwarded, as OpenHIM does. Bytes that cannot stand in a URL path as
    they are (``#``, non-ASCII) are percent-encoded; escaped letters, digits and ``-._~`` are
    decoded (RFC 3986 6.2.2.2), so that ``/%65cho`` is rewritten as the ``/echo`` it matched as."""
    raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode()  # raw_path is optional in ASGI
    path = quote_from_bytes(raw, PATH_CHARACTERS)
    return ESCAPE.sub(_unreserved, path) if "%" in path else path


class ChannelRoute(Route):
    """The gateway for every path whose first segment is not one of the hub's own APIs.

    Placed first, it spares channel traffic a walk past every admin, FHIR and DHIS2
    route; paths under a reserved prefix fall through to those routes (and to the
    catch-all gateway route after them).
    """

    def __init__(self, reserved: frozenset[str]) -> None:
        super().__init__("/{path:path}", gateway, methods=METHODS, include_in_schema=False)
        self.reserved = reserved

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        first = path[1:].split("/", 1)[0].split(".", 1)[0]
        if scope["type"] != "http" or first in self.reserved:
            return Match.NONE, {}
        return super().matches(scope)


def first_segments(paths: list[str]) -> frozenset[str] | None:
    """The literal start of each route's first segment (``/admin/x`` → ``admin``, ``/api{v}/x`` → ``api``).

    None when a route starts with a parameter: then no prefix is safe to skip.
    """
    firsts = {p[1:].split("/", 1)[0].split(".", 1)[0].split("{", 1)[0] for p in paths}
    return None if "" in firsts else frozenset(firsts)


async def gateway(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    received = time.perf_counter()
    scope = request.scope
    channel: CompiledChannel | None = None
    try:  # every refusal before the pipeline is counted here, by channel ("" when none matched)
        decoded: str = scope["path"]  # %2e%2e is ".." here too
        if "." in decoded and DOT_SEGMENT.search(decoded):
            # a pattern approves the path as it reads; an upstream, or aiohttp, would resolve it
            raise BadRequest("the path has a '.' or '..' segment (perhaps percent-encoded); send it resolved")
        channel = runtime.channels.match(request.method, url_path(scope), request.headers.get("content-type"))
        principal = None if channel.public else await authenticate_client(runtime, request)
        if principal is not None:
            authorise(channel, principal)
        path = raw_url_path(scope)
        check_paths(channel.spec.routes, path)
        body = await read_body(
            request, request_cap(channel.spec.body_policy, runtime.settings.max_body_bytes)
        )
    except HubError:
        metrics.observe_request(
            channel.name if channel else "", metrics.REJECTED, time.perf_counter() - received
        )
        raise
    incoming = GatewayRequest(
        request.method,
        path,
        scope["query_string"].decode(),
        request_headers(scope),
        body,
        request_id.get() or "",
    )
    result = await process(runtime, channel, principal, incoming)
    headers = MultiDict(result.headers)
    headers["x-hub-transaction-id"] = headers["x-openhim-transactionid"] = str(result.transaction_id)
    response = Response(result.body, status_code=result.status, headers=headers)
    if request.method == "HEAD" and "content-length" not in headers:
        # the length a GET would get is the upstream's to tell (RFC 9110 9.3.2); it told none, and
        # Starlette's would be the empty body's, 0
        response.raw_headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    return response
