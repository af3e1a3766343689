"""Connection settings for one DHIS2 instance."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from requests.auth import AuthBase, HTTPBasicAuth

from adapters.common.http import TokenAuth


class Dhis2Config(BaseModel):
    """Where a DHIS2 instance lives and how to log in to it.

    Give either ``username`` and ``password`` (HTTP Basic) or a ``personal_access_token``
    (DHIS2 2.37+, sent as ``Authorization: ApiToken d2pat_…``). Secrets are ``SecretStr``:
    they never appear in ``repr``, logs or errors.

    ``base_url`` is the DHIS2 root, without ``/api`` (``https://dhis.example.org`` or
    ``https://example.org/dhis``). ``api_version`` pins the Web API version in every path
    (``/api/37/dataValueSets``) for code that expects an older response shape; leave it unset
    to use the server's default. ``timeout`` is per request in seconds; ``retries`` is how
    often a transient failure is retried, waiting ``backoff`` seconds and doubling.
    ``poll_interval`` and ``job_timeout`` govern waiting for asynchronous imports.

    Example::

        config = Dhis2Config(base_url="https://play.dhis2.org/40", username="admin",
                             password=os.environ["DHIS2_PASSWORD"])
        config = Dhis2Config(base_url="https://dhis.moh.example", personal_access_token=token,
                             api_version=37, timeout=120)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    username: str | None = None
    password: SecretStr | None = None
    personal_access_token: SecretStr | None = None
    timeout: float = Field(60.0, gt=0)
    verify: bool | str = True
    api_version: int | None = Field(None, ge=28, le=99)
    retries: int = Field(3, ge=0)
    backoff: float = Field(0.5, ge=0)
    poll_interval: float = Field(2.0, ge=0)
    job_timeout: float = Field(3600.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _root_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        value = value.rstrip("/")
        # A common slip is to give the API URL; every path this client builds starts with /api.
        return value.removesuffix("/api")

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> Dhis2Config:
        basic = self.username is not None or self.password is not None
        if basic == (self.personal_access_token is not None):
            raise ValueError("give either username and password, or personal_access_token")
        if basic and not (self.username and self.password):
            raise ValueError("username and password go together")
        return self

    def auth(self) -> AuthBase:
        if self.personal_access_token is not None:
            return TokenAuth("ApiToken", self.personal_access_token.get_secret_value())
        assert self.username is not None and self.password is not None
        return HTTPBasicAuth(self.username, self.password.get_secret_value())

    def secrets(self) -> list[str]:
        """The secret values, so error excerpts can mask them."""
        return [s.get_secret_value() for s in (self.password, self.personal_access_token) if s is not None]
