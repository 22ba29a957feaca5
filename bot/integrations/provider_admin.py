"""`ProviderAdmin` over httpx: one call to an AI orchestrator's admin API, bounded in time and size.

A routing change is a write, so it is never retried here (the action's verification reads the
routing back instead) and never follows a redirect: an admin API that answers 3xx is refused
rather than sent a bearer token somewhere else. The token is read from the environment variable
the config names, at each call, so a rotated token needs no restart and never sits in the config.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.provider_admin import AdminAnswer

PROVIDER = "provider-admin"
TIMEOUT_S = 5.0
MAX_BYTES = 64 * 1024


class HttpxProviderAdmin:
    def __init__(self, *, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
                 environ: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._environ = environ
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport,
                                       headers={"User-Agent": "incident-bot", "Accept": "application/json",
                                                "Accept-Encoding": "identity"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, *, method: str, url: str, body: Mapping[str, Any] | None = None,
                   token_env: str | None = None) -> AdminAnswer:
        headers = {}
        if token_env:
            token = (self._environ if self._environ is not None else os.environ).get(token_env, "")
            if not token:
                raise ProviderRejected(f"the admin API's token is not set: {token_env} is empty in the bot's "
                                       "environment", provider=PROVIDER, status=401)
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with asyncio.timeout(self._timeout):
                return await self._send(method, url, body, headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderUnavailable(f"{url} did not answer within {self._timeout:g} s", provider=PROVIDER) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ProviderRejected(f"{url} is not a URL the bot can call: {exc}", provider=PROVIDER,
                                   status=400) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{url} could not be reached ({exc.__class__.__name__})",
                                      provider=PROVIDER) from exc

    async def _send(self, method: str, url: str, body: Mapping[str, Any] | None,
                    headers: dict[str, str]) -> AdminAnswer:
        content = json.dumps(dict(body)).encode() if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        async with self._http.stream(method, url, content=content, headers=headers) as response:
            raw = await _read_capped(response, self._max_bytes)
            status = response.status_code
        if 300 <= status < 400:
            raise ProviderRejected(f"{method} {url} answered a redirect ({status}); not followed", provider=PROVIDER,
                                   status=status)
        if status >= 500 or status == 429:
            raise ProviderUnavailable(f"{method} {url} answered {status}", provider=PROVIDER, status=status)
        if status >= 400:
            raise ProviderRejected(f"{method} {url} answered {status}{_detail(raw)}", provider=PROVIDER,
                                   status=status)
        return AdminAnswer(status=status, body=_json(raw))


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        room = max_bytes - size
        if len(chunk) >= room:
            chunks.append(chunk[:room])
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _detail(raw: bytes) -> str:
    """A refusal's own words, short, on one line: what the API said was wrong."""
    text = " ".join(raw.decode("utf-8", "replace").split())[:160]
    return f": {text}" if text else ""
