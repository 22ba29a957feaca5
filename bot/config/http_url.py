"""A URL the bot itself requests (a health probe, a service's ``/stats``): http or https, with a host.

The URL is shown in Slack with what it answered, so it must not carry a user or password; a
probe that needs credentials needs a client of its own, not a secret in a config file.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from bot.config.fields import Name

__all__ = ["HttpUrl"]

_EXAMPLE = "e.g. http://feature-store.internal/health"


def _check_http_url(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError:  # an unbalanced [ in the host
        raise PydanticCustomError("http_url", f"expected an http:// or https:// URL with a host, {_EXAMPLE}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("http_url", f"expected an http:// or https:// URL with a host, {_EXAMPLE}")
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # not a number, or past 65535
        port_ok = False
    if not port_ok:
        raise PydanticCustomError("http_url", f"the port must be a number from 1 to 65535, {_EXAMPLE}")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("http_url", "must not carry a user or password: the bot shows this URL in Slack")
    return text


HttpUrl = Annotated[Name, AfterValidator(_check_http_url)]
