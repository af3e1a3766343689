"""What every adapter shares: the HTTP layer and the one error type."""

from adapters.common.errors import AdapterError, BaseUrlEscape
from adapters.common.http import HttpClient, RetryPolicy, TokenAuth

__all__ = ["AdapterError", "BaseUrlEscape", "HttpClient", "RetryPolicy", "TokenAuth"]
