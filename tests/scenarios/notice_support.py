"""What the notice scenarios share: a config with named audiences, a loopback status page that
records each POST (and can be told to fail), and a loopback stand-in for the model worker's
`GET /v1/models/<name>` that says which version serves."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.models import OutboxMessage
from tests.scenarios.harness import Database, all_text

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"  # commander; approver; nobody
SERVING_VERSION = "v7"
STATUS_TOKEN = "status-page-token-123"
STATUS_PATH = "/incidents"  # the status page webhook's path on the loopback server

CONFIG = """
services:
  scoring-engine:
    aliases: [scoring]
    models: [credit-scorer]
channels:
  announce: incidents
  escalations: incident-escalations
communication:
  audiences:
    executives:
      channel: exec-summary
      template: executive
      severities: [P0, P1]
      on_resolve: true
    customers:
      channel: customer-status
      template: customer
      approval: true
      status_page: {{url: "{status_url}", token_env: STATUS_PAGE_TOKEN, timeout: 2s}}
rbac:
  roles:
    commander: {{users: [{alice}]}}
    approver: {{users: [{bob}]}}
  actions:
    publish_notice: [commander]
security:
  runbooks: [security]
  responders: {{users: [{bob}]}}
"""


def write_config(tmp_path: Path, *, status_url: str) -> Path:
    path = tmp_path / "notice-config.yaml"
    path.write_text(CONFIG.format(status_url=status_url, alice=ALICE, bob=BOB))
    return path


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class LoopbackServer:
    """A real HTTP server on 127.0.0.1; ``answer`` decides each reply."""

    posts: list[Recorded] = field(default_factory=list)
    failures_left: int = 0  # answer 503 this many times first
    reject: bool = False  # answer 422 to everything

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def do_GET(self) -> None:  # the model worker's model state
                name = self.path.rsplit("/", 1)[-1]
                self._send(200, {"name": name, "ready": True, "version": SERVING_VERSION, "versions": [],
                                 "deploys": [], "serving_history": ["v6", SERVING_VERSION]})

            def do_POST(self) -> None:  # the status page's webhook
                if not self.path.startswith(STATUS_PATH):
                    self._send(503, {"error": "this stand-in only says which version serves"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.posts.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if owner.failures_left > 0:
                    owner.failures_left -= 1
                    self._send(503, {"error": "busy"})
                elif owner.reject:
                    self._send(422, {"error": "no"})
                else:
                    self._send(201, {"ok": True})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def texts(slack: Any, channel: str) -> list[str]:
    return [all_text(message) for message in slack.messages(channel)]


def thread_texts(slack: Any, channel: str, parent_ts: str) -> list[str]:
    return [all_text(message) for message in slack.thread_messages(channel, parent_ts)]


def notice_rows(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(OutboxMessage).where(OutboxMessage.kind == "notice")
                                 .order_by(OutboxMessage.id)).all())


def declare_for_service(user: Any, slack: Any, db: Database, *, title: str, service: str,
                        severity: str = "P1") -> str:
    """Declare through the form (the only way a person names the service); the channel id."""
    from bot.slack.ids import BlockId, CallbackId, InputId
    from tests.scenarios.actions_support import wait_for

    before = len(slack.views())
    assert user.command("declare", trigger_id="trig.declare").status_code == 200
    view = wait_for(lambda: len(slack.views()) > before and slack.views()[-1], what="the declare form")
    assert view["callback_id"] == CallbackId.DECLARE_MODAL

    def chosen(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": value},
                                                               "value": value}}

    values = {BlockId.DECLARE_TITLE: {InputId.TITLE: {"type": "plain_text_input", "value": title}},
              BlockId.DECLARE_SEVERITY: {InputId.SEVERITY: chosen(severity)},
              BlockId.DECLARE_SERVICE: {InputId.SERVICE: chosen(service)}}
    assert user.submit_view(view, values).status_code == 200
    incident = wait_for(lambda: (rows := db.incidents()) and rows[-1].channel_id and rows[-1].announcement_ts
                        and rows[-1], what="the incident's channel")
    db.wait_outbox_drained()
    return str(incident.channel_id)
