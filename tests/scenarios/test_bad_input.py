"""Whatever arrives at /slack/events, signed or not, gets a clear 4xx or a 200: never a 500."""

from __future__ import annotations

import json
import urllib.parse
from contextlib import asynccontextmanager

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import AppOptions, create_app
from bot.config.settings import Settings
from bot.slack.ids import ActionId, CallbackId
from sandbox.runner import ThreadedServer
from tests.scenarios.harness import SlackUser, sign

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)

payloads = st.fixed_dictionaries(
    {"type": st.sampled_from(["block_actions", "view_submission", "shortcut", "message_action", "bogus"])},
    optional={
        "user": st.one_of(st.fixed_dictionaries({"id": st.text(max_size=12)}), json_values),
        "channel": json_values,
        "actions": st.lists(
            st.fixed_dictionaries({"action_id": st.sampled_from([a.value for a in ActionId] + ["x"])},
                                  optional={"block_id": st.text(max_size=10),
                                            "value": st.one_of(st.text(max_size=10), st.integers(0, 5).map(str))}),
            max_size=2,
        ),
        "view": st.one_of(
            st.fixed_dictionaries({"callback_id": st.sampled_from([c.value for c in CallbackId]), "state": json_values,
                                   "private_metadata": st.one_of(st.text(max_size=40), st.builds(
                                       lambda i: json.dumps({"incident_id": i, "action_id": i}), st.integers(0, 3)))}),
            json_values,
        ),
        "response_url": st.just("http://127.0.0.1:1/nowhere"),
    },
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(payload=payloads)
def test_any_signed_interaction_payload_is_answered_without_a_server_error(alice: SlackUser, payload) -> None:
    response = alice.client.post({"payload": json.dumps(payload)})
    assert response.status_code < 500, response.text


@SETTINGS
@given(body=st.binary(max_size=300))
def test_any_signed_body_is_answered_without_a_server_error(alice: SlackUser, body: bytes) -> None:
    response = alice.http.post(f"{alice.bot.url}/slack/events", content=body, headers=sign(body))
    assert response.status_code < 500


@SETTINGS
@given(form=st.dictionaries(st.sampled_from(["command", "text", "user_id", "channel_id", "payload", "type"]),
                            st.text(max_size=60), max_size=6))
def test_any_signed_form_is_answered_without_a_server_error(alice: SlackUser, form: dict[str, str]) -> None:
    body = urllib.parse.urlencode(form).encode()
    response = alice.http.post(f"{alice.bot.url}/slack/events", content=body, headers=sign(body))
    assert response.status_code < 500


def test_readyz_says_unavailable_when_the_database_is_down(slack) -> None:
    settings_ = Settings(
        slack_bot_token="xoxb-x", slack_signing_secret="s", slack_api_url=slack.base_url,
        database_url="postgresql://postgres@127.0.0.1:1/nothing", migrate_on_start=False,
    )
    server = ThreadedServer(create_app(settings_)).start()
    try:
        with httpx.Client(timeout=10) as http:
            ready = http.get(f"{server.url}/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
            assert http.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()


def test_without_a_signing_secret_http_deliveries_are_refused(slack, tmp_path) -> None:
    """Socket Mode runs without a signing secret; then nothing over HTTP may act."""
    settings_ = Settings(
        slack_bot_token="xoxb-x", slack_app_token="xapp-x", slack_api_url=slack.base_url,
        database_url=f"sqlite:///{tmp_path}/bot.db",
    )
    app = create_app(settings_, AppOptions(socket_mode=True))
    server = ThreadedServer(app)
    # Socket Mode would dial Slack at start-up; this test only needs the HTTP side.
    app.router.lifespan_context = _no_lifespan
    server.start()
    try:
        body = urllib.parse.urlencode({"command": "/incident", "text": "declare P1 x", "user_id": "U0EVIL"}).encode()
        with httpx.Client(timeout=10) as http:
            answer = http.post(f"{server.url}/slack/events", content=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 401
    finally:
        server.stop()


@asynccontextmanager
async def _no_lifespan(_app):
    yield
