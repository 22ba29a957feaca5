"""`HttpProbe` over httpx: one GET of a configured URL, bounded in time and size.

The URLs are the ones a service's config names (a feature store's health URL, a ``/stats``
page), read while an incident is on, so the read must never hang or swallow memory: one total
time limit covers connecting, the headers and the body; the body is read up to a limit and the
rest left unread (and never decompressed); redirects are followed only within the same scheme, host and port, so a
misbehaving service cannot send the bot somewhere else.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.http_probe import ProbeAnswer

PROVIDER = "http"
TIMEOUT_S = 5.0
MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3


class HttpxProbe:
    def __init__(self, *, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport,
                                       headers={"User-Agent": "incident-bot", "Accept": "application/json, */*",
                                                "Accept-Encoding": "identity"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, url: str) -> ProbeAnswer:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(url, started)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderUnavailable(f"{url} did not answer within {self._timeout:g} s",
                                      provider=PROVIDER) from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ProviderRejected(f"{url} is not a URL the bot can read: {exc}", provider=PROVIDER,
                                   status=400) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{url} could not be reached: {_reason(exc)}", provider=PROVIDER) from exc

    async def _follow(self, url: str, started: float) -> ProbeAnswer:
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            async with self._http.stream("GET", current) as response:
                target = response.next_request.url if response.next_request is not None else None
                if target is None:
                    body, truncated = await _read_capped(response, self._max_bytes)
                    return ProbeAnswer(url=str(current), status=response.status_code, body=body,
                                       truncated=truncated, seconds=round(time.monotonic() - started, 3))
                if not _same_origin(current, target):
                    raise ProviderRejected(f"{url} redirects to another host ({target.host or '?'}); not followed",
                                           provider=PROVIDER, status=response.status_code)
                current = target
        raise ProviderRejected(f"{url} redirects more than {MAX_REDIRECTS} times; not followed",
                               provider=PROVIDER, status=310)


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    # Raw bytes, as sent: the bot asked for no compression, and decoding a compressed answer
    # anyway could turn a few kilobytes into gigabytes before any limit is checked.
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _reason(exc: httpx.HTTPError) -> str:
    # httpx's own text for a refused connection is the OS's ("All connection attempts failed").
    detail = " ".join(str(exc).split())[:160]
    return f"{exc.__class__.__name__}" + (f" ({detail})" if detail else "")
