"""Errors of the providers, independent of the library that talks to each one.

Callers decide on two things only: whether to try again later (``ProviderUnavailable``, with
the provider's own hint of when) or to give up and tell a person (``ProviderRejected``). A
``ProviderConflict`` is the refusal that means someone else changed the thing first: show them
what it is now rather than what was asked.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A provider call that did not succeed."""

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider


class ProviderUnavailable(ProviderError):
    """Worth retrying: rate limited, a server error, a timeout or no connection.

    ``retry_after`` is the provider's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, provider=provider)
        self.status = status
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """Not worth retrying as is: the provider refused the request (a 4xx other than 429)."""

    def __init__(self, message: str, *, provider: str = "", status: int) -> None:
        super().__init__(message, provider=provider)
        self.status = status


class ProviderConflict(ProviderRejected):
    """409: the thing changed under the caller (someone else acted first); nothing was done."""

    def __init__(self, message: str, *, provider: str = "", status: int = 409) -> None:
        super().__init__(message, provider=provider, status=status)
