"""A local PagerDuty over real HTTP: the REST API, the Events API v2, and the webhooks it sends.

The bot's PagerDuty clients work against it unchanged::

    with LocalPagerDutyServer() as pd:
        pd.add_incident("PINC001", title="Checkout latency", service_id="PSVC001")
        pd.webhook_sender("http://127.0.0.1:8000/webhooks/pagerduty", ["secret"])
        pd.emit("incident.triggered", "PINC001")      # signed, like PagerDuty's own
        client = PagerDutyRestClient(pd.url, "pd-test-token", "bot@example.com")
        await client.set_status("PINC001", "acknowledged")  # echoed as incident.acknowledged

Routes (PagerDuty's error shape ``{"error": {"message", "code", "errors"}}``):

- ``GET|PUT /incidents/{id}``, ``GET|POST /incidents/{id}/notes``: need
  ``Authorization: Token token=...`` (401) and the v2 ``Accept`` header (400); writes need
  ``From`` (400). Unknown incidents answer 404.
- ``GET /oncalls?schedule_ids[]=...``: who is on call now for the schedules set with
  ``set_oncall`` (``include[]=users`` gives each user whole, with its email).
- ``POST /v2/enqueue``: the Events API v2 (202, or 400 on an invalid event).
- ``/_local/...``: a control surface for other processes: ``POST /_local/incidents``,
  ``POST /_local/oncalls``,
  ``POST /_local/webhook``, ``POST /_local/emit``, ``GET|DELETE /_local/calls``,
  ``GET|POST|DELETE /_local/faults``, ``POST /_local/reset``.

A status change through ``PUT`` (and a note through ``POST .../notes``) is echoed as a webhook
to the configured target, on a background thread after the answer, as PagerDuty does.
``python -m sandbox.pagerduty_api --port 9002`` serves one by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import hashlib
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.faults import FaultInjector, FaultRule
from sandbox.runner import ThreadedServer

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "pd-test-token"
REST_ACCEPT = "application/vnd.pagerduty+json;version=2"
SETTABLE_STATUSES = frozenset({"acknowledged", "resolved"})
EVENT_ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
EVENT_SEVERITIES = frozenset({"critical", "error", "warning", "info"})
ECHOED_STATUS_EVENTS = {"acknowledged": "incident.acknowledged", "resolved": "incident.resolved"}
# Emitting one of these moves the local incident too, so later payloads stay consistent.
EVENT_STATUSES = {"incident.triggered": "triggered", "incident.acknowledged": "acknowledged",
                  "incident.unacknowledged": "triggered", "incident.resolved": "resolved",
                  "incident.reopened": "triggered"}
HTML_ROOT = "https://local.pagerduty.test"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pd_error(status: int, message: str, code: int, *errors: str) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = list(errors)
    return JSONResponse({"error": body}, status_code=status)


def sign_body(body: bytes, secrets: Sequence[str]) -> str:
    """``X-PagerDuty-Signature``: one ``v1=<hex HMAC-SHA256>`` per active secret."""
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


# --- state -----------------------------------------------------------------------------------


@dataclass
class LocalIncident:
    """A PagerDuty incident as this server keeps it; ``to_json()`` is the API's shape."""

    id: str
    title: str
    service_id: str = "PSVC001"
    service_name: str = "Local service"
    status: str = "triggered"
    urgency: str = "high"
    priority: str | None = None  # e.g. "P1"; None is PagerDuty's null priority
    incident_key: str | None = None
    number: int = 1
    assignees: list[str] = field(default_factory=lambda: ["Local Responder"])
    escalation_policy: str = "Default"
    created_at: str = field(default_factory=_now_iso)
    notes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, api_root: str) -> dict[str, Any]:
        def ref(kind: str, ref_id: str, summary: str) -> dict[str, Any]:
            return {"id": ref_id, "type": f"{kind}_reference", "summary": summary,
                    "self": f"{api_root}/{kind}s/{ref_id}",
                    "html_url": f"{HTML_ROOT}/{kind}s/{ref_id}"}

        priority = None if self.priority is None else {
            "id": f"PPRI{self.priority}", "type": "priority", "summary": self.priority,
            "self": f"{api_root}/priorities/PPRI{self.priority}", "html_url": None}
        return {
            "id": self.id, "type": "incident", "self": f"{api_root}/incidents/{self.id}",
            "html_url": f"{HTML_ROOT}/incidents/{self.id}", "number": self.number,
            "status": self.status, "incident_key": self.incident_key or self.id,
            "created_at": self.created_at, "title": self.title,
            "service": ref("service", self.service_id, self.service_name),
            "assignees": [ref("user", _user_id(name), name) for name in self.assignees],
            "escalation_policy": ref("escalation_policy", "PESC001", self.escalation_policy),
            "teams": [], "priority": priority, "urgency": self.urgency,
            "conference_bridge": None, "resolve_reason": None,
        }


def _user_id(name: str) -> str:
    return "PU" + hashlib.sha256(name.encode()).hexdigest()[:6].upper()


@dataclass(frozen=True)
class PagerDutyCall:
    """One API call as the server saw it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    status: int
    response: Any
    time: float


@dataclass(frozen=True)
class SentWebhook:
    """One webhook delivery attempt; ``status`` is None when the target could not be reached."""

    webhook_id: str
    event_type: str
    incident_id: str | None
    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None
    error: str | None = None
    echo: bool = False  # sent on its own after an API change, not by ``emit``


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secrets: tuple[str, ...]
    subscription_id: str = "PSUB001"


class PagerDutyFaults(FaultInjector):
    """``FaultInjector`` keyed by request path (``/incidents/*``, ``/v2/enqueue``).

    Unlike Slack's faults, ``retry_after`` is sent with any status, so a 503 can carry one.
    """

    def add(self, path_glob: str = "*", *, status: int = 429, retry_after: int | None = None,
            times: int | None = None, rate: float | None = None, until: float | None = None,
            error: str | None = None) -> FaultRule:
        return super().add(path_glob, status=status, retry_after=retry_after, times=times,
                           rate=rate, until=until, error=error)

    def pick_rule(self, path: str) -> FaultRule | None:
        """The rule that answers this call, if one fires (counted as fired)."""
        with self._lock:
            now = self._clock()
            for rule in self._rules:
                if not rule.live(now) or not fnmatch.fnmatchcase(path, rule.method_glob):
                    continue
                if rule.rate is not None and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                return replace(rule)
            return None


def _fault_response(rule: FaultRule, path: str) -> JSONResponse:
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = str(rule.retry_after)
    elif rule.status == 429:
        headers["Retry-After"] = "1"
    message = rule.error or ("Rate Limit Exceeded" if rule.status == 429 else "Service Unavailable")
    if path.startswith("/v2/"):
        body: dict[str, Any] = {"status": "error", "message": message}
    else:
        body = {"error": {"message": message, "code": 2020 if rule.status == 429 else 2999}}
    return JSONResponse(body, status_code=rule.status, headers=headers)


# --- the server ------------------------------------------------------------------------------


class PagerDutySandbox:
    """Local PagerDuty state, faults, call log, webhook sender, and the ASGI app (``app``)."""

    def __init__(self, *, tokens: Iterable[str] | None = (DEFAULT_TOKEN,),
                 echo_webhooks: bool = True, echo_delay: float = 0.0,
                 webhook_timeout: float = 10.0, seed: int = 0,
                 root_url: str = "http://127.0.0.1") -> None:
        self.tokens = None if tokens is None else frozenset(tokens)  # None: any token
        self.echo_webhooks = echo_webhooks
        self.echo_delay = echo_delay
        self.webhook_timeout = webhook_timeout
        self.faults = PagerDutyFaults(seed)
        self.root_url = root_url.rstrip("/")
        self._lock = threading.RLock()
        self._incidents: dict[str, LocalIncident] = {}
        self._numbers = itertools.count(1)
        self._calls: list[PagerDutyCall] = []
        self._events: list[dict[str, Any]] = []
        self._sent: list[SentWebhook] = []
        self._target: WebhookTarget | None = None
        self._oncalls: dict[str, list[tuple[str, str]]] = {}  # schedule id -> (name, email) on call now
        self.app = FastAPI(routes=self._routes(), docs_url=None, redoc_url=None, openapi_url=None)

    def _routes(self) -> list[BaseRoute]:
        return [
            Route("/incidents/{rest:path}", self._incidents_api, methods=["GET", "PUT", "POST"]),
            Route("/oncalls", self._oncalls_api, methods=["GET"]),
            Route("/v2/enqueue", self._enqueue, methods=["POST"]),
            Route("/_local/incidents", self._local_incidents, methods=["POST"]),
            Route("/_local/oncalls", self._local_oncalls, methods=["POST"]),
            Route("/_local/webhook", self._local_webhook, methods=["POST"]),
            Route("/_local/emit", self._local_emit, methods=["POST"]),
            Route("/_local/calls", self._local_calls, methods=["GET", "DELETE"]),
            Route("/_local/faults", self._local_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_local/reset", self._local_reset, methods=["POST"]),
        ]

    # --- state for tests -----------------------------------------------------------------

    def add_incident(self, incident_id: str | None = None, *, title: str = "Local incident",
                     service_id: str = "PSVC001", service_name: str | None = None,
                     status: str = "triggered", urgency: str = "high",
                     priority: str | None = None, incident_key: str | None = None,
                     assignees: Sequence[str] = ("Local Responder",),
                     escalation_policy: str = "Default") -> dict[str, Any]:
        """Create (or replace) an incident without an API call; returns its API shape."""
        with self._lock:
            incident = LocalIncident(
                id=incident_id or "Q" + uuid.uuid4().hex[:13].upper(), title=title,
                service_id=service_id, service_name=service_name or f"Service {service_id}",
                status=status, urgency=urgency, priority=priority, incident_key=incident_key,
                number=next(self._numbers), assignees=list(assignees),
                escalation_policy=escalation_policy)
            self._incidents[incident.id] = incident
            return incident.to_json(self.root_url)

    def set_oncall(self, schedule_id: str, *people: tuple[str, str]) -> None:
        """Who is on call now in ``schedule_id``: (name, email) pairs; none leaves it empty."""
        with self._lock:
            self._oncalls[schedule_id] = [(str(name), str(email)) for name, email in people]

    def update_incident(self, incident_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of an incident (``priority="P1"``, ``assignees=[...]``) without a call."""
        with self._lock:
            incident = self._require(incident_id)
            for name, value in changes.items():
                if name not in LocalIncident.__dataclass_fields__ or name in ("id", "notes"):
                    raise TypeError(f"not an incident field: {name}")
                setattr(incident, name, list(value) if name == "assignees" else value)
            return incident.to_json(self.root_url)

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._incidents.get(incident_id)
            return None if found is None else found.to_json(self.root_url)

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident in its API shape, in creation order (Events API ones included)."""
        with self._lock:
            return [i.to_json(self.root_url) for i in self._incidents.values()]

    def status_of(self, incident_id: str) -> str | None:
        with self._lock:
            found = self._incidents.get(incident_id)
            return None if found is None else found.status

    def notes(self, incident_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._require(incident_id).notes))

    def _require(self, incident_id: str) -> LocalIncident:
        found = self._incidents.get(incident_id)
        if found is None:
            raise KeyError(f"no local PagerDuty incident {incident_id!r}")
        return found

    def calls(self, path_glob: str = "*", method: str | None = None) -> list[PagerDutyCall]:
        """API calls in order (faulted ones included), by path glob and HTTP method."""
        with self._lock:
            return [c for c in self._calls if fnmatch.fnmatchcase(c.path, path_glob)
                    and (method is None or c.method == method.upper())]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    async def wait_for_call(self, path_glob: str = "*", method: str | None = None, *,
                            count: int = 1, timeout: float = 5.0) -> list[PagerDutyCall]:
        return await _wait(lambda: self.calls(path_glob, method), count, timeout,
                           f"{method or 'any'} {path_glob}")

    def events(self) -> list[dict[str, Any]]:
        """Accepted Events API v2 events, as posted."""
        with self._lock:
            return json.loads(json.dumps(self._events))

    def webhooks(self, event_type: str | None = None) -> list[SentWebhook]:
        """Webhook delivery attempts in order (emitted and echoed)."""
        with self._lock:
            return [w for w in self._sent if event_type is None or w.event_type == event_type]

    async def wait_for_webhooks(self, event_type: str | None = None, *, count: int = 1,
                                timeout: float = 5.0) -> list[SentWebhook]:
        """Wait until ``count`` deliveries (of ``event_type``) were attempted; echoes are async."""
        return await _wait(lambda: self.webhooks(event_type), count, timeout,
                           event_type or "webhook")

    def reset(self) -> None:
        """No incidents, calls, events, faults, deliveries or webhook target."""
        with self._lock:
            self._incidents.clear()
            self._calls.clear()
            self._events.clear()
            self._sent.clear()
            self._oncalls.clear()
            self._target = None
        self.faults.clear()

    # --- webhooks out --------------------------------------------------------------------

    def webhook_sender(self, url: str, secrets: Sequence[str] | str,
                       *, subscription_id: str = "PSUB001") -> None:
        """Send webhooks to ``url``, signed with each of ``secrets`` (one ``v1=`` per secret)."""
        chosen = (secrets,) if isinstance(secrets, str) else tuple(secrets)
        with self._lock:
            self._target = WebhookTarget(url, chosen, subscription_id)

    def build_webhook(self, event_type: str, incident_id: str | None = None, *,
                      agent: str | Mapping[str, Any] | None = "Local Responder",
                      extra: Mapping[str, Any] | None = None,
                      data: Mapping[str, Any] | None = None, note: str = "A note",
                      webhook_id: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers PagerDuty would send for this event (signed if a target is set).

        ``data`` replaces the payload's ``data``; ``extra`` is merged into it. Status events
        (acknowledged, resolved, ...) also move the local incident.
        """
        with self._lock:
            event_data = dict(data) if data is not None else self._event_data(
                event_type, incident_id, note)
            event_data.update(extra or {})
            target = self._target
        event = {"id": str(uuid.uuid4()), "event_type": event_type,
                 "resource_type": event_type.split(".")[0], "occurred_at": _now_iso(),
                 "agent": _agent(agent), "client": None, "data": event_data}
        body = json.dumps({"event": event}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "PagerDuty-Webhook/V3.0",
                   "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
                   "X-Webhook-Subscription": target.subscription_id if target else "PSUB001"}
        if target is not None:
            headers["X-PagerDuty-Signature"] = sign_body(body, target.secrets)
        return body, headers

    def _event_data(self, event_type: str, incident_id: str | None, note: str) -> dict[str, Any]:
        if incident_id is None:
            return {}
        incident = self._require(incident_id)
        if event_type in EVENT_STATUSES:
            incident.status = EVENT_STATUSES[event_type]
        if event_type != "incident.annotated":
            return incident.to_json(self.root_url)
        return {"id": "PNOTE" + uuid.uuid4().hex[:8].upper(), "type": "incident_note",
                "content": note, "trimmed": False,
                "incident": {"id": incident.id, "type": "incident_reference",
                             "self": f"{self.root_url}/incidents/{incident.id}",
                             "html_url": f"{HTML_ROOT}/incidents/{incident.id}"}}

    def emit(self, event_type: str, incident_id: str | None = None, *,
             agent: str | Mapping[str, Any] | None = "Local Responder",
             extra: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None,
             note: str = "A note", webhook_id: str | None = None) -> httpx.Response:
        """Build, sign and POST one webhook to the target (blocking); returns the response.

        Pass an earlier ``webhook_id`` to look like a retry, or use ``redeliver``.
        """
        body, headers = self.build_webhook(event_type, incident_id, agent=agent, extra=extra,
                                           data=data, note=note, webhook_id=webhook_id)
        return self._deliver(event_type, incident_id, body, headers)

    async def emit_async(self, event_type: str, incident_id: str | None = None,
                         **options: Any) -> httpx.Response:
        """``emit`` for async tests whose receiver runs on the same event loop."""
        body, headers = self.build_webhook(event_type, incident_id, **options)
        url = self._require_target().url
        async with httpx.AsyncClient(timeout=self.webhook_timeout) as client:
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                self._record_sent(event_type, incident_id, url, body, headers, None, repr(exc))
                raise
        self._record_sent(event_type, incident_id, url, body, headers, response.status_code)
        return response

    def redeliver(self, webhook_id: str) -> httpx.Response:
        """Send an earlier delivery again, byte for byte, as PagerDuty retries do."""
        with self._lock:
            earlier = next((w for w in self._sent if w.webhook_id == webhook_id), None)
        if earlier is None:
            raise KeyError(f"no webhook {webhook_id!r} was sent")
        return self._deliver(earlier.event_type, earlier.incident_id, earlier.body,
                             earlier.headers)

    def _require_target(self) -> WebhookTarget:
        with self._lock:
            if self._target is None:
                raise RuntimeError("no webhook target: call webhook_sender(url, secrets) first")
            return self._target

    def _deliver(self, event_type: str, incident_id: str | None, body: bytes,
                 headers: dict[str, str], *, echo: bool = False) -> httpx.Response:
        url = self._require_target().url
        try:
            with httpx.Client(timeout=self.webhook_timeout) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._record_sent(event_type, incident_id, url, body, headers, None, repr(exc), echo)
            raise
        self._record_sent(event_type, incident_id, url, body, headers, response.status_code,
                          None, echo)
        return response

    def _record_sent(self, event_type: str, incident_id: str | None, url: str, body: bytes,
                     headers: dict[str, str], status: int | None, error: str | None = None,
                     echo: bool = False) -> None:
        sent = SentWebhook(headers["X-Webhook-Id"], event_type, incident_id, url, body,
                           dict(headers), status, error, echo)
        with self._lock:
            self._sent.append(sent)

    def _echo(self, event_type: str, incident_id: str, agent: str, note: str = "") -> None:
        """Send the webhook for a change made through the API, off the request's path."""
        with self._lock:
            if not self.echo_webhooks or self._target is None:
                return
        threading.Thread(target=self._echo_now, args=(event_type, incident_id, agent, note),
                         name=f"pd-echo-{incident_id}", daemon=True).start()

    def _echo_now(self, event_type: str, incident_id: str, agent: str, note: str) -> None:
        time.sleep(self.echo_delay)
        try:
            body, headers = self.build_webhook(event_type, incident_id, agent=agent, note=note)
        except (KeyError, RuntimeError):  # reset in the meantime
            return
        for attempt in range(3):  # PagerDuty retries 429, 5xx and timeouts with the same id
            try:
                response = self._deliver(event_type, incident_id, body, headers, echo=True)
                if response.status_code != 429 and response.status_code < 500:
                    return
            except (httpx.HTTPError, RuntimeError) as exc:
                logger.info("local PagerDuty echo %s failed: %r", event_type, exc)
            time.sleep(0.2 * (attempt + 1))

    # --- REST API ------------------------------------------------------------------------

    async def _incidents_api(self, request: Request) -> Response:
        # Routed on the raw path: an id with a quoted "/" is still one segment.
        segments = [unquote(s) for s in _raw_path(request).split("/")[2:]]
        request.scope["path_params"] = {"incident_id": segments[0]}
        if len(segments) == 1 and request.method in ("GET", "PUT"):
            return await self._handle(request, self._answer_incident)
        if segments[1:] == ["notes"] and request.method in ("GET", "POST"):
            return await self._handle(request, self._answer_notes)
        return pd_error(404, "Not Found", 2100)

    async def _oncalls_api(self, request: Request) -> Response:
        return await self._handle(request, self._answer_oncalls)

    def _answer_oncalls(self, request: Request, payload: Any) -> Response:
        schedule_ids = request.query_params.getlist("schedule_ids[]")
        whole_users = "users" in request.query_params.getlist("include[]")
        now = _now_iso()
        oncalls = []
        with self._lock:
            for schedule_id in schedule_ids:
                for name, email in self._oncalls.get(schedule_id, []):
                    oncalls.append({
                        "escalation_policy": {"id": "PESC001", "type": "escalation_policy_reference"},
                        "escalation_level": 1,
                        "schedule": {"id": schedule_id, "type": "schedule_reference",
                                     "self": f"{self.root_url}/schedules/{schedule_id}"},
                        "user": _oncall_user(name, email, self.root_url, whole=whole_users),
                        "start": now, "end": None,
                    })
        return JSONResponse({"oncalls": oncalls, "limit": 25, "offset": 0, "more": False, "total": None})

    async def _enqueue(self, request: Request) -> Response:
        return await self._handle(request, self._answer_event, rest=False)

    async def _handle(self, request: Request,
                      answer: Callable[[Request, Any], Response], *, rest: bool = True
                      ) -> Response:
        raw = await request.body()
        try:
            payload: Any = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            payload = ValueError
        # One step under the (re-entrant) lock: whoever reads the incidents and the call log sees a
        # change together with the call that made it, never one without the other.
        with self._lock:
            rule = self.faults.pick_rule(request.url.path)
            if rule is not None:
                response: Response = _fault_response(rule, request.url.path)
            else:
                refusal = self._refuse_rest(request) if rest else None
                response = refusal or answer(request, payload)
            self._record(request, payload, response)
        return response

    def _refuse_rest(self, request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        token = auth[len("Token token="):].strip() if auth.startswith("Token token=") else ""
        if not token or (self.tokens is not None and token not in self.tokens):
            return pd_error(401, "Unauthorized", 2006)
        accept = request.headers.get("accept", "").replace(" ", "")
        if REST_ACCEPT not in accept:
            return pd_error(400, "Invalid Input Provided", 2001, f"Accept must be {REST_ACCEPT}")
        if request.method != "GET" and not request.headers.get("from"):
            return pd_error(400, "Invalid Input Provided", 2001,
                            "A valid 'From' header is required for this request")
        return None

    def _answer_incident(self, request: Request, payload: Any) -> Response:
        incident_id = request.path_params["incident_id"]
        with self._lock:
            incident = self._incidents.get(incident_id)
            if incident is None:
                return pd_error(404, "Not Found", 2100, "Incident Not Found")
            if request.method == "GET":
                return JSONResponse({"incident": incident.to_json(self.root_url)})
            problem = _incident_update_problem(payload)
            if problem:
                return pd_error(400, "Invalid Input Provided", 2001, problem)
            new_status = payload["incident"]["status"]
            if incident.status == "resolved" and new_status != "resolved":
                return pd_error(400, "Invalid Input Provided", 2001, "Incident Already Resolved")
            changed = incident.status != new_status
            incident.status = new_status
            body = {"incident": incident.to_json(self.root_url)}
        if changed:
            self._echo(ECHOED_STATUS_EVENTS[new_status], incident_id, request.headers["from"])
        return JSONResponse(body)

    def _answer_notes(self, request: Request, payload: Any) -> Response:
        incident_id = request.path_params["incident_id"]
        with self._lock:
            incident = self._incidents.get(incident_id)
            if incident is None:
                return pd_error(404, "Not Found", 2100, "Incident Not Found")
            if request.method == "GET":
                return JSONResponse({"notes": list(incident.notes)})
            note = _note_payload(payload)
            if note is None:
                return pd_error(400, "Invalid Input Provided", 2001, "Note content is required")
            author = request.headers["from"]
            record = {"id": "PNOTE" + uuid.uuid4().hex[:8].upper(),
                      "user": {"id": _user_id(author), "type": "user_reference",
                               "summary": author},
                      "channel": {"summary": "The PagerDuty API"},
                      "content": note, "created_at": _now_iso()}
            incident.notes.append(record)
        self._echo("incident.annotated", incident_id, author, note)
        return JSONResponse({"note": record}, status_code=201)

    # --- Events API v2 -------------------------------------------------------------------

    def _answer_event(self, request: Request, payload: Any) -> Response:
        problem = _event_problem(payload)
        if problem:
            return JSONResponse({"status": "invalid event", "message": "Event object is invalid",
                                 "errors": [problem]}, status_code=400)
        dedup_key = payload.get("dedup_key") or uuid.uuid4().hex
        with self._lock:
            self._events.append({**payload, "dedup_key": dedup_key})
            self._apply_event(payload, dedup_key)
        return JSONResponse({"status": "success", "message": "Event processed",
                             "dedup_key": dedup_key}, status_code=202)

    def _apply_event(self, event: dict[str, Any], dedup_key: str) -> None:
        """Events open, acknowledge and resolve incidents by dedup key (no webhooks sent)."""
        open_incident = next((i for i in self._incidents.values()
                              if i.incident_key == dedup_key and i.status != "resolved"), None)
        action = event["event_action"]
        if action == "trigger" and open_incident is None:
            self.add_incident(title=event["payload"]["summary"], incident_key=dedup_key,
                              service_id="PSVC" + event["routing_key"][:8].upper(),
                              urgency="high" if event["payload"]["severity"] in
                              ("critical", "error") else "low")
        elif open_incident is not None and action != "trigger":
            open_incident.status = "acknowledged" if action == "acknowledge" else "resolved"

    # --- bookkeeping ---------------------------------------------------------------------

    def _record(self, request: Request, payload: Any, response: Response) -> None:
        try:
            answer = json.loads(bytes(response.body))
        except ValueError:
            answer = None
        call = PagerDutyCall(request.method, request.url.path, dict(request.headers.items()),
                             None if payload is ValueError else payload, response.status_code,
                             answer, time.monotonic())
        with self._lock:
            self._calls.append(call)

    # --- control surface -----------------------------------------------------------------

    async def _local_incidents(self, request: Request) -> Response:
        try:
            spec = await request.json()
            incident_id = spec.pop("id", None)
            return JSONResponse({"incident": self.add_incident(incident_id, **spec)})
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def _local_oncalls(self, request: Request) -> Response:
        try:
            spec = await request.json()
            self.set_oncall(str(spec["schedule_id"]), *[(p["name"], p["email"]) for p in spec.get("people", [])])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def _local_webhook(self, request: Request) -> Response:
        try:
            spec = await request.json()
            self.webhook_sender(str(spec["url"]), spec.get("secrets") or [])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def _local_emit(self, request: Request) -> Response:
        try:
            spec = await request.json()
            event_type = str(spec.pop("event_type"))
            response = await self.emit_async(event_type, spec.pop("incident_id", None), **spec)
        except (ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except httpx.HTTPError as exc:
            return JSONResponse({"error": repr(exc)}, status_code=502)
        return JSONResponse({"status": response.status_code, "body": response.text})

    async def _local_calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_calls()
            return JSONResponse({"ok": True})
        return JSONResponse({"calls": [{**c.__dict__} for c in self.calls()]})

    async def _local_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                spec = await request.json()
                rule = self.faults.add(spec.pop("path", "*"), **spec)
            except (ValueError, TypeError, AttributeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"fault": self.faults.describe(rule)})
        return JSONResponse({"faults": self.faults.rules()})

    async def _local_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})


# --- validation ------------------------------------------------------------------------------


def _incident_update_problem(payload: Any) -> str | None:
    incident = payload.get("incident") if isinstance(payload, dict) else None
    if not isinstance(incident, dict):
        return "incident object is required"
    if incident.get("type") not in ("incident", "incident_reference"):
        return "incident.type must be incident_reference"
    if incident.get("status") not in SETTABLE_STATUSES:
        return "incident.status must be acknowledged or resolved"
    return None


def _note_payload(payload: Any) -> str | None:
    note = payload.get("note") if isinstance(payload, dict) else None
    content = note.get("content") if isinstance(note, dict) else None
    return content if isinstance(content, str) and content.strip() else None


def _event_problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "body must be a JSON object"
    if not isinstance(event.get("routing_key"), str) or not event["routing_key"]:
        return "routing_key is required"
    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        return "event_action must be trigger, acknowledge or resolve"
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        return "dedup_key must be a string of at most 255 characters"
    if action != "trigger":
        return None if dedup_key else "dedup_key is required for acknowledge and resolve"
    return _trigger_payload_problem(event.get("payload"))


def _trigger_payload_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "payload is required for trigger"
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary or len(summary) > 1024:
        return "payload.summary must be 1 to 1024 characters"
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        return "payload.source is required"
    if payload.get("severity") not in EVENT_SEVERITIES:
        return "payload.severity must be critical, error, warning or info"
    return None


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1").split("?")[0] if isinstance(raw, bytes) else request.url.path


def _oncall_user(name: str, email: str, api_root: str, *, whole: bool) -> dict[str, Any]:
    user: dict[str, Any] = {"id": _user_id(name), "type": "user_reference", "summary": name,
                            "self": f"{api_root}/users/{_user_id(name)}",
                            "html_url": f"{HTML_ROOT}/users/{_user_id(name)}"}
    if whole:  # PagerDuty's include[]=users: the user object itself, email included
        user.update(type="user", name=name, email=email)
    return user


def _agent(agent: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if agent is None or isinstance(agent, Mapping):
        return None if agent is None else dict(agent)
    return {"id": _user_id(agent), "type": "user_reference", "summary": agent,
            "self": f"https://api.pagerduty.com/users/{_user_id(agent)}",
            "html_url": f"{HTML_ROOT}/users/{_user_id(agent)}"}


async def _wait(read: Callable[[], list[Any]], count: int, timeout: float, what: str) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if len(found) >= count:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{count} x {what} not seen in {timeout}s; saw {len(found)}")
        await asyncio.sleep(0.01)


# --- running it ------------------------------------------------------------------------------


class LocalPagerDutyServer(PagerDutySandbox):
    """A ``PagerDutySandbox`` under uvicorn on a background thread, on a free loopback port.

    ``url`` (``http://127.0.0.1:<port>``) is both ``PAGERDUTY_API_URL`` and the Events API
    URL. Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._runner: ThreadedServer | None = None

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("LocalPagerDutyServer is not started")
        return self._runner.url

    def start(self, timeout: float = 10.0) -> LocalPagerDutyServer:
        if self._runner is None:
            self._runner = ThreadedServer(self.app).start(timeout)
            self.root_url = self._runner.url
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def __enter__(self) -> LocalPagerDutyServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a local PagerDuty: REST, Events, webhooks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9002)
    parser.add_argument("--token", action="append",
                        help=f"an accepted API token (default {DEFAULT_TOKEN})")
    parser.add_argument("--webhook-url", help="where webhooks go (the bot's /webhooks/pagerduty)")
    parser.add_argument("--webhook-secret", action="append", default=[], help="signing secret")
    args = parser.parse_args(argv)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    sandbox = PagerDutySandbox(tokens=args.token or [DEFAULT_TOKEN],
                               root_url=f"http://{host}:{args.port}")
    if args.webhook_url:
        sandbox.webhook_sender(args.webhook_url, args.webhook_secret)
    print(f"PagerDuty sandbox: PAGERDUTY_API_URL=http://{host}:{args.port}", flush=True)
    uvicorn.run(sandbox.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
