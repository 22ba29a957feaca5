"""What the security tests share: the secrets the bot runs with, signers for every route, a
canary HTTP server that records whatever reaches it, and a look at "did anything happen"."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Self

from sandbox.slack_api import LocalSlackServer
from tests.scenarios.harness import Database

PAGERDUTY_SECRET = "pd-webhook-secret-7f3a"
EVENTBRIDGE_TOKEN = "eventbridge-token-91c2"


def pagerduty_signature(body: bytes, secret: str = PAGERDUTY_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pagerduty_triggered(incident_id: str = "PSEC001", title: str = "checkout 5xx") -> bytes:
    event = {"event": {"id": uuid.uuid4().hex, "event_type": "incident.triggered", "resource_type": "incident",
                       "occurred_at": datetime.now(UTC).isoformat(), "agent": {"summary": "Dana"},
                       "data": {"id": incident_id, "type": "incident", "title": title, "status": "triggered",
                                "service": {"id": "PSVC001", "summary": "checkout"}, "urgency": "high",
                                "priority": {"id": "P", "summary": "P1"}}}}
    return json.dumps(event).encode()


def slack_calls_that_act(slack: LocalSlackServer) -> list[str]:
    """Web API methods the bot called that change something (reads like users.info do not)."""
    readonly = ("users.", "usergroups.list", "usergroups.users.list", "conversations.info",
                "conversations.history", "conversations.members", "auth.test")
    return [call.method for call in slack.calls() if not call.method.startswith(readonly)]


def assert_no_trace(db: Database, slack: LocalSlackServer) -> None:
    """Nothing stored and nothing said: no delivery row, no incident, no Slack write."""
    assert db.deliveries() == 0
    assert db.incidents() == []
    assert db.pending_outbox() == 0
    assert slack_calls_that_act(slack) == []


class CanaryServer:
    """A plain http.server on loopback that answers 200 to anything and records every request.

    Used where the bot must not fetch a URL that an attacker put in a payload: any request it
    records is the bot reaching out where it was told to.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                canary.requests.append((self.command, self.path))
                body = b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _record

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
