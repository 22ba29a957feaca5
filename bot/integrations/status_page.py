"""`StatusPage` over httpx: one JSON POST to a status page's incoming webhook.

The outbox calls it and retries what is worth retrying, so every error is mapped here: a
timeout, no connection, 429 and 5xx are `ProviderUnavailable` (with the page's ``Retry-After``),
any other non-2xx is `ProviderRejected`. Each POST carries an ``Idempotency-Key`` (the notice's
id), so a retry after a lost answer is the same notice to a page that honours it.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.notices import StatusPageTarget

PROVIDER = "status page"


class HttpxStatusPage:
    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(follow_redirects=False, transport=transport,
                                       headers={"User-Agent": "incident-bot"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, target: StatusPageTarget, *, body: dict[str, Any], idempotency_key: str) -> int:
        headers = {"Idempotency-Key": idempotency_key}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        try:
            response = await self._http.post(target.url, json=body, headers=headers,
                                              timeout=target.timeout_seconds)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"the status page did not answer within {target.timeout_seconds:g} s",
                                      provider=PROVIDER) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ProviderRejected(f"the status page URL cannot be used: {exc}", provider=PROVIDER,
                                   status=400) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the status page could not be reached ({exc.__class__.__name__})",
                                      provider=PROVIDER) from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        if status == 429 or status >= 500:
            raise ProviderUnavailable(f"the status page answered {status}", provider=PROVIDER, status=status,
                                      retry_after=_retry_after(response))
        raise ProviderRejected(f"the status page refused the notice ({status})", provider=PROVIDER, status=status)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None
