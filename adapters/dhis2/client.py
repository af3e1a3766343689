"""``Dhis2Client``: the version-aware DHIS2 Web API client."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import requests

from adapters.common.http import HttpClient, RetryPolicy
from adapters.dhis2.completeness import CompleteDataSetRegistrations
from adapters.dhis2.config import Dhis2Config
from adapters.dhis2.data_values import DataValueSets
from adapters.dhis2.deleted_objects import DeletedObject, deleted_objects
from adapters.dhis2.import_report import ImportReport
from adapters.dhis2.metadata import Metadata
from adapters.dhis2.paging import Fields, Filters, pages
from adapters.dhis2.tracker import Tracker
from adapters.dhis2.version import Dhis2Version

T = TypeVar("T")
Params = Mapping[str, Any] | None


class Dhis2Client:
    """A client for one DHIS2 instance, 2.29 to 2.42.

    Generic verbs work on any resource under ``/api`` (``"dataElements"``,
    ``"organisationUnits/ImspTQPwCqd"``; a path starting with ``/`` is taken from the DHIS2
    root) and return the decoded JSON; any status other than 2xx raises
    :class:`~adapters.common.errors.AdapterError`. The groups ``metadata``, ``data_value_sets``,
    ``complete_data_set_registrations`` and ``tracker`` know each release's endpoints and
    reply shapes and return typed results, in which DHIS2's 409 conflict replies are parsed,
    not raised.

    ``version`` is read from ``/api/system/info`` on first use and kept. Transient failures
    are retried (see :class:`Dhis2Config`); credentials never reach logs or errors. Like the
    ``requests.Session`` under it, a client is meant for one thread at a time: give each
    worker thread its own.

    Example::

        with Dhis2Client(Dhis2Config(base_url="https://dhis.example.org",
                                     personal_access_token=token)) as dhis2:
            if dhis2.version >= "2.38": ...
            units = dhis2.get("organisationUnits", params={"fields": "id,name", "paging": "false"})
            for page in dhis2.pages("dataElements", fields=["id", "code"], filter="domainType:eq:AGGREGATE"):
                ...
            summary = dhis2.data_value_sets.post(data_value_set)
            report = dhis2.metadata.import_(doc)
            report = dhis2.tracker.import_(tracker_payload)
    """

    def __init__(
        self,
        config: Dhis2Config,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self.http = HttpClient(
            "dhis2",
            config.base_url,
            auth=config.auth(),
            timeout=config.timeout,
            verify=config.verify,
            retry=RetryPolicy(attempts=config.retries + 1, backoff=config.backoff),
            headers={"Accept": "application/json"},
            secrets=config.secrets(),
            session=session,
            sleep=sleep,
        )
        self._system_info: dict[str, Any] | None = None
        self.metadata = Metadata(self)
        self.data_value_sets = DataValueSets(self)
        self.complete_data_set_registrations = CompleteDataSetRegistrations(self)
        self.tracker = Tracker(self)

    # -- server ----------------------------------------------------------------------------------

    @property
    def system_info(self) -> dict[str, Any]:
        """``GET /api/system/info``, fetched once."""
        if self._system_info is None:
            self._system_info = self.parse(self.send("GET", "system/info", versioned=False), _system_info)
        return self._system_info

    @property
    def version(self) -> Dhis2Version:
        """The server's release, e.g. ``Dhis2Version(2, 41, 1)``, detected once."""
        return Dhis2Version.parse(self.system_info["version"])

    # -- generic verbs -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        resource: str,
        *,
        params: Params = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Any call; returns the decoded JSON body (XML as text, ``None`` when empty)."""
        return self.body(self.send(method, resource, params=params, json=json, data=data, headers=headers))

    def get(self, resource: str, params: Params = None) -> Any:
        return self.request("GET", resource, params=params)

    def create(self, resource: str, payload: Any, params: Params = None) -> Any:
        """``POST /api/<resource>``; returns DHIS2's WebMessage (the new id is in ``response.uid``)."""
        return self.request("POST", resource, params=params, json=payload)

    def update(self, resource: str, uid: str, payload: Any, params: Params = None) -> Any:
        """``PUT /api/<resource>/<uid>`` (replaces the whole object)."""
        return self.request("PUT", f"{resource}/{uid}", params=params, json=payload)

    def upsert(self, resource: str, payload: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> ImportReport:
        """Create or update metadata objects of type ``resource`` by their ``id``, through a
        ``CREATE_AND_UPDATE`` metadata import: ``upsert("dataElements", [{...}, {...}])``."""
        objects = [payload] if isinstance(payload, Mapping) else list(payload)
        return self.metadata.import_({resource: objects}, import_strategy="CREATE_AND_UPDATE")

    def delete(self, resource: str, uid: str, params: Params = None) -> Any:
        return self.request("DELETE", f"{resource}/{uid}", params=params)

    def pages(
        self,
        resource: str,
        *,
        fields: Fields = None,
        filter: Filters = None,
        page_size: int = 50,
        paging: bool = True,
        params: Params = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield every object of a collection, one page (a list) at a time, following the pager
        to the last page. ``fields`` is a string or a list; ``filter`` one ``prop:op:value``
        string or several (DHIS2 ANDs them). ``paging=False`` fetches all in one call and yields once.

        Example::

            for page in dhis2.pages("organisationUnits", fields="id,name,path", filter="level:eq:4",
                                    page_size=500):
                store(page)
            everything = [ou for page in dhis2.pages("organisationUnits") for ou in page]
        """
        return pages(
            self, resource, fields=fields, filter=filter, page_size=page_size, paging=paging, params=params
        )

    def deleted_objects(
        self, klass: str | Sequence[str], *, deleted_at: datetime | None = None, page_size: int = 50
    ) -> Iterator[list[DeletedObject]]:
        """The metadata objects DHIS2 deleted (``GET /api/deletedObjects``, 2.30+), one page at a
        time: of ``klass`` (simple class names, ``"OrganisationUnit"``), at or after ``deleted_at``.
        :class:`~adapters.dhis2.errors.UnsupportedByVersion` on older releases.

        Example::

            for page in dhis2.deleted_objects("OrganisationUnit", deleted_at=last_sync, page_size=500):
                forget(d.uid for d in page)
        """
        return deleted_objects(self, klass, deleted_at=deleted_at, page_size=page_size)

    # -- plumbing the groups share ---------------------------------------------------------------

    def path(self, resource: str, *, versioned: bool = True) -> str:
        """The URL path of ``resource``: ``/api/<resource>``, or ``/api/<api_version>/<resource>``
        when the config pins a version; a path starting with ``/`` is kept as is."""
        if resource.startswith("/"):
            return resource
        version = f"/{self.config.api_version}" if versioned and self.config.api_version else ""
        return f"/api{version}/{resource}"

    def send(
        self,
        method: str,
        resource: str,
        *,
        params: Params = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        idempotent: bool | None = None,
        versioned: bool = True,
    ) -> requests.Response:
        """The lower-level call behind the verbs: returns the ``requests.Response``."""
        return self.http.send(
            method,
            self.path(resource, versioned=versioned),
            params=params,
            json=json,
            data=data,
            headers=headers,
            accept=accept,
            idempotent=idempotent,
        )

    def body(self, response: requests.Response) -> Any:
        """The decoded body: JSON, XML as text, ``None`` when empty."""
        if not response.content:
            return None
        if "xml" in response.headers.get("Content-Type", ""):
            return response.text
        try:
            return response.json()
        except ValueError as exc:
            raise self.http.error(response, "the response is not JSON") from exc

    def parse(self, response: requests.Response, parser: Callable[[Any, int], T]) -> T:
        """``parser(body, status)``; a ``ValueError`` becomes an ``AdapterError`` about the response."""
        try:
            return parser(self.body(response), response.status_code)
        except ValueError as exc:
            raise self.http.error(response, f"unexpected reply: {exc}") from exc

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Dhis2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Dhis2Client({self.config.base_url!r})"


def _system_info(body: Any, _status: int) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("version"), str):
        raise ValueError("system info without a version")
    Dhis2Version.parse(body["version"])
    return body
