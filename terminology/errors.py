"""Terminology errors: each carries the FHIR issue type and the parameter it is about, so the FHIR
edge renders it as an OperationOutcome and the CLI as a plain message.

HubError (hub.errors)
└── FhirError                    any terminology error; ``issue_code`` from FHIR's IssueType
    ├── InvalidParameter         400 invalid      a parameter is malformed or contradicts another
    │   └── MissingParameter     400 required     a required parameter is absent
    ├── InvalidResource          400 structure    a CodeSystem, ValueSet or ConceptMap fails validation
    ├── NotSupported             400 not-supported a valid request the hub does not implement
    ├── UnknownCodeSystem        404 not-found    no code system with that url (or id)
    ├── UnknownVersion           404 not-found    the code system exists, not in that version
    ├── UnknownCode              404 not-found    the code is not in the code system
    ├── UnknownResource          404 not-found    no ValueSet / ConceptMap with that url or id
    └── DuplicateResource        409 duplicate    a resource with that url and version exists
"""

from __future__ import annotations

from typing import Any

from hub.errors import HubError


class FhirError(HubError):
    status = 400
    title = "FHIR error"
    issue_code = "processing"

    def __init__(
        self,
        detail: str,
        *,
        expression: str | None = None,
        issues: list[tuple[str, str | None]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, extra=extra, headers=headers)
        # several issues (e.g. every field of an invalid resource) or just this one
        self.issues = issues or [(detail, expression)]


class InvalidParameter(FhirError):
    title = "Invalid parameter"
    issue_code = "invalid"


class MissingParameter(InvalidParameter):
    title = "Missing parameter"
    issue_code = "required"


class InvalidResource(FhirError):
    title = "Invalid resource"
    issue_code = "structure"


class NotSupported(FhirError):
    title = "Not supported"
    issue_code = "not-supported"


class UnknownCodeSystem(FhirError):
    status = 404
    title = "Unknown code system"
    issue_code = "not-found"


class UnknownVersion(UnknownCodeSystem):
    title = "Unknown code system version"


class UnknownCode(FhirError):
    status = 404
    title = "Unknown code"
    issue_code = "not-found"


class UnknownResource(FhirError):
    status = 404
    title = "Unknown resource"
    issue_code = "not-found"


class DuplicateResource(FhirError):
    status = 409
    title = "Duplicate resource"
    issue_code = "duplicate"
