"""PagerDuty as a provider: the REST API (acknowledge, resolve, notes, who is on call) and the Events API v2.

Both clients speak httpx and map every httpx error and HTTP status to
``bot.core.ports.errors`` here, at the boundary: 429, 5xx, timeouts and connection errors
are ``ProviderUnavailable`` (with PagerDuty's ``Retry-After`` when it sent one); any other 4xx
is ``ProviderRejected`` with PagerDuty's own error message.
"""

from __future__ import annotations

import email.utils
import math
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from bot.core.ports.errors import ProviderError, ProviderRejected, ProviderUnavailable
from bot.core.ports.pagerduty import EventAction, EventSeverity, IncidentStatus

PROVIDER = "pagerduty"
DEFAULT_TIMEOUT_S = 10.0
REST_ACCEPT = "application/vnd.pagerduty+json;version=2"
SUMMARY_MAX = 1024  # Events API v2 refuses longer summaries



# --- mapping responses and errors ------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds_until_http_date(text: str, now: float | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    return max(0.0, (when - reference).total_seconds())


def error_message(response: httpx.Response) -> str:
    """PagerDuty's own words for a refusal, from either API's error shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # REST: {"error": {"message", "code", "errors"}}
            parts = [str(error.get("message") or "")]
            details = error.get("errors")
            if isinstance(details, list):
                parts.extend(str(d) for d in details)
            return ": ".join(p for p in parts if p)[:500] or response.reason_phrase
        if "message" in body:  # Events API: {"status", "message", "errors"}
            details = body.get("errors")
            extra = [str(d) for d in details] if isinstance(details, list) else []
            return ": ".join([str(body["message"]), *extra])[:500]
    return response.reason_phrase or f"HTTP {response.status_code}"


def raise_for_response(response: httpx.Response, what: str) -> None:
    """Nothing for a 2xx; otherwise the provider error that the status means."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"PagerDuty {what}: HTTP {status}: {error_message(response)}"
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise ProviderUnavailable(message, provider=PROVIDER, status=status,
                                  retry_after=retry_after)
    raise ProviderRejected(message, provider=PROVIDER, status=status)


async def _request(http: httpx.AsyncClient, method: str, url: str, *, what: str,
                   json: dict[str, Any] | None, headers: dict[str, str],
                   timeout: float, params: httpx.QueryParams | None = None) -> httpx.Response:
    try:
        response = await http.request(method, url, json=json, headers=headers, timeout=timeout,
                                      params=params)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        # A wrong PAGERDUTY_API_URL: retrying will not fix it.
        raise ProviderError(f"PagerDuty {what}: bad URL {url!r}: {exc}", provider=PROVIDER) from exc
    except httpx.TimeoutException as exc:
        raise ProviderUnavailable(f"PagerDuty {what}: timed out", provider=PROVIDER) from exc
    except httpx.TransportError as exc:
        raise ProviderUnavailable(f"PagerDuty {what}: {type(exc).__name__}: {exc}",
                                  provider=PROVIDER) from exc
    raise_for_response(response, what)
    return response


class _OwnedClient:
    """An httpx client that is closed on ``aclose()`` only if this object made it."""

    def __init__(self, http: httpx.AsyncClient | None) -> None:
        self._owns_http = http is None
        self.http = http if http is not None else httpx.AsyncClient()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> _OwnedClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


# --- the clients -----------------------------------------------------------------------------


def incident_path(incident_id: str) -> str:
    if not incident_id:
        raise ValueError("a PagerDuty incident id is required")
    return f"/incidents/{quote(incident_id, safe='')}"


class PagerDutyRestClient(_OwnedClient):
    """``PagerDutyClient`` over the REST API v2 (``PAGERDUTY_API_URL``).

    Pass ``http`` to share one ``httpx.AsyncClient``; it is then the caller's to close.
    """

    def __init__(self, base_url: str, token: str, from_email: str, *,
                 http: httpx.AsyncClient | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(http)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {
            "Authorization": f"Token token={token}",
            "Accept": REST_ACCEPT,
            "Content-Type": "application/json",
            # PagerDuty attributes writes to the user with this email, and refuses them without.
            "From": from_email,
        }

    async def set_status(self, incident_id: str, status: IncidentStatus) -> None:
        body = {"incident": {"type": "incident_reference", "status": status}}
        await self._send("PUT", incident_path(incident_id), body, f"{status} {incident_id}")

    async def add_note(self, incident_id: str, content: str) -> None:
        body = {"note": {"content": content}}
        await self._send("POST", f"{incident_path(incident_id)}/notes", body,
                         f"note on {incident_id}")

    async def oncall_emails(self, schedule_id: str) -> tuple[str, ...]:
        """``GET /oncalls`` for one schedule, now, with the users whole (their emails)."""
        if not schedule_id:
            raise ValueError("a PagerDuty schedule id is required")
        what = f"on-call of schedule {schedule_id}"
        response = await _request(
            self.http, "GET", f"{self.base_url}/oncalls", what=what, json=None,
            headers={k: v for k, v in self._headers.items() if k != "Content-Type"}, timeout=self.timeout,
            params=httpx.QueryParams([("schedule_ids[]", schedule_id), ("include[]", "users"), ("earliest", "true")]),
        )
        return _oncall_emails(response, what)

    async def _send(self, method: str, path: str, body: dict[str, Any],
                    what: str) -> httpx.Response:
        return await _request(self.http, method, f"{self.base_url}{path}", what=what, json=body,
                              headers=self._headers, timeout=self.timeout)


class PagerDutyEventsClient(_OwnedClient):
    """``PagerDutyEventSender`` over the Events API v2 (``POST {events_url}/v2/enqueue``)."""

    def __init__(self, events_url: str = "https://events.pagerduty.com", *,
                 http: httpx.AsyncClient | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(http)
        self.events_url = events_url.rstrip("/")
        self.timeout = timeout

    async def send_event(self, routing_key: str, action: EventAction,
                         dedup_key: str | None = None, summary: str = "", source: str = "",
                         severity: EventSeverity = "critical") -> str:
        """Enqueue one event; returns the dedup key PagerDuty filed it under."""
        event: dict[str, Any] = {"routing_key": routing_key, "event_action": action}
        if dedup_key is not None:
            event["dedup_key"] = dedup_key
        if action == "trigger":
            event["payload"] = {"summary": summary[:SUMMARY_MAX], "source": source,
                                "severity": severity}
        response = await _request(self.http, "POST", f"{self.events_url}/v2/enqueue",
                                  what=f"event {action}", json=event,
                                  headers={"Content-Type": "application/json"},
                                  timeout=self.timeout)
        return _returned_dedup_key(response) or dedup_key or ""


def _oncall_emails(response: httpx.Response, what: str) -> tuple[str, ...]:
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(f"PagerDuty {what}: the answer is not JSON", provider=PROVIDER) from exc
    oncalls = body.get("oncalls") if isinstance(body, dict) else None
    if not isinstance(oncalls, list):
        raise ProviderError(f"PagerDuty {what}: the answer has no oncalls list", provider=PROVIDER)
    emails: dict[str, None] = {}  # in PagerDuty's order, once each
    for oncall in oncalls:
        user = oncall.get("user") if isinstance(oncall, dict) else None
        email = user.get("email") if isinstance(user, dict) else None
        if isinstance(email, str) and email.strip():
            emails[email.strip()] = None
    return tuple(emails)


def _returned_dedup_key(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    key = body.get("dedup_key") if isinstance(body, dict) else None
    return key if isinstance(key, str) else None
