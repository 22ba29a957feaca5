"""The local Slack Web API server, driven over real HTTP by the real slack_sdk clients."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from sandbox import BOT_USER_ID, ChannelSpec, LocalSlackServer
from sandbox.methods import METHODS

TOKEN = "xoxb-test-token"
NAME_ERRORS = {"invalid_name_required", "invalid_name_maxlength", "invalid_name_specials",
               "invalid_name_punctuation", "name_taken"}
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}
MODAL = {"type": "modal", "callback_id": "declare",
         "title": {"type": "plain_text", "text": "Declare"}, "blocks": [SECTION]}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One keep-alive client for raw requests (a new httpx client per call costs ~25 ms)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def slack(server: LocalSlackServer) -> LocalSlackServer:
    """The module's server, reset to a fresh workspace for each test."""
    server.reset()
    return server


@pytest.fixture
def client(slack: LocalSlackServer) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.base_url)


async def slack_error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value.response["error"]


# --- transport, auth, recording --------------------------------------------------------------


async def test_auth_test_identifies_the_bot(client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["user_id"] == BOT_USER_ID
    assert response["team_id"] == "T0LOCAL"
    assert response["bot_id"] == "B0BOT"
    assert response["url"].startswith("https://")


async def test_missing_token_and_unknown_method(slack: LocalSlackServer,
                                                client: AsyncWebClient) -> None:
    anonymous = AsyncWebClient(base_url=slack.base_url)
    assert await slack_error(anonymous.auth_test()) == "not_authed"
    assert await slack_error(client.api_call("chat.teleport")) == "unknown_method"
    assert await slack_error(AsyncWebClient(token="bogus", base_url=slack.base_url)
                             .auth_test()) == "invalid_auth"


def test_form_json_query_and_multipart_bodies_are_merged(slack: LocalSlackServer,
                                                         http: httpx.Client) -> None:
    url = f"{slack.base_url}chat.postMessage"
    blocks = '[{"type": "divider"}]'
    form = http.post(url, data={"token": TOKEN, "channel": "incidents", "blocks": blocks})
    query = http.get(url, params={"channel": "#general", "text": "from the query"},
                     headers={"Authorization": f"Bearer {TOKEN}"})
    multipart = http.post(url, data={"token": TOKEN, "channel": "incidents", "text": "mp"},
                          files={"ignored": ("a.txt", b"bytes")})
    bad_json = http.post(url, content=b"{nope", headers={"Content-Type": "application/json"})
    bad_blocks = http.post(url, data={"token": TOKEN, "channel": "incidents", "blocks": "[x"})

    assert [r.json()["ok"] for r in (form, query, multipart)] == [True, True, True]
    assert form.json()["message"]["blocks"] == [{"type": "divider"}]
    assert bad_json.status_code == 200 and bad_json.json()["error"] == "invalid_json"
    assert bad_blocks.json()["error"] == "invalid_blocks_format"
    assert slack.messages("general")[-1].text == "from the query"
    recorded = slack.calls("chat.postMessage")[0]
    assert recorded.params["blocks"] == [{"type": "divider"}] and recorded.token == TOKEN


async def test_calls_are_recorded_in_order_and_can_be_cleared(slack: LocalSlackServer,
                                                              client: AsyncWebClient) -> None:
    await client.auth_test()
    await client.conversations_create(name="inc-rec")
    with pytest.raises(SlackApiError):
        await client.conversations_create(name="inc-rec")

    calls = slack.calls()
    assert [c.method for c in calls] == ["auth.test", "conversations.create",
                                         "conversations.create"]
    assert calls[1].ok and calls[1].params == {"name": "inc-rec"}
    assert calls[2].error == "name_taken" and calls[2].status == 200
    assert calls[0].time <= calls[1].time <= calls[2].time
    assert len(slack.calls("conversations.create")) == 2
    slack.clear_calls()
    assert slack.calls() == []


# --- channels --------------------------------------------------------------------------------


async def test_create_channel_returns_slack_shape(slack: LocalSlackServer,
                                                  client: AsyncWebClient) -> None:
    channel = (await client.conversations_create(name="inc-42-ranker"))["channel"]
    assert re.fullmatch(r"C0[A-Z0-9]{9}", channel["id"])
    assert channel["name"] == "inc-42-ranker"
    assert channel["is_channel"] and not channel["is_private"] and not channel["is_archived"]
    assert channel["is_member"] and channel["creator"] == BOT_USER_ID
    assert channel["num_members"] == 1
    assert set(channel["topic"]) == {"value", "creator", "last_set"}
    assert slack.members("inc-42-ranker") == [BOT_USER_ID]
    private = (await client.conversations_create(name="inc-priv", is_private=True))["channel"]
    assert private["is_private"] and not private["is_channel"]


@pytest.mark.parametrize(("name", "error"), [
    ("", "invalid_name_required"),
    ("x" * 81, "invalid_name_maxlength"),
    ("Incident", "invalid_name_specials"),
    ("inc 42", "invalid_name_specials"),
    ("inc#42", "invalid_name_specials"),
    ("---", "invalid_name_punctuation"),
    ("general", "name_taken"),
])
async def test_channel_name_rules(client: AsyncWebClient, name: str, error: str) -> None:
    assert await slack_error(client.conversations_create(name=name)) == error


async def test_longest_name_and_archived_names_are_taken(client: AsyncWebClient) -> None:
    created = await client.conversations_create(name="x" * 80)
    await client.conversations_archive(channel=created["channel"]["id"])
    assert await slack_error(client.conversations_create(name="x" * 80)) == "name_taken"
    assert await slack_error(client.chat_postMessage(channel="x" * 80, text="hi")) == (
        "is_archived")


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=90),
    st.from_regex(r"[a-z0-9_-]{1,82}", fullmatch=True),
))
def test_any_channel_name_is_accepted_validly_or_rejected_cleanly(slack: LocalSlackServer,
                                                                  name: str) -> None:
    client = WebClient(token=TOKEN, base_url=slack.base_url)
    try:
        channel = client.conversations_create(name=name)["channel"]
    except SlackApiError as exc:
        assert exc.response.status_code == 200
        assert exc.response["error"] in NAME_ERRORS
    else:
        assert channel["name"] == name
        assert re.fullmatch(r"[a-z0-9_-]{1,80}", name) and name.strip("-_")


async def test_list_info_join_and_paging(client: AsyncWebClient) -> None:
    for n in range(3):
        await client.conversations_create(name=f"page-{n}")
    await client.conversations_create(name="secret", is_private=True)

    first = await client.conversations_list(limit=4)
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_list(limit=4, cursor=cursor)
    names = [c["name"] for c in first["channels"] + rest["channels"]]
    assert names == ["general", "incidents", "incident-escalations", "page-0", "page-1", "page-2"]
    assert rest["response_metadata"]["next_cursor"] == ""
    both = await client.conversations_list(types="public_channel,private_channel")
    assert "secret" in [c["name"] for c in both["channels"]]

    general = (await client.conversations_info(channel=names[0]))["channel"]
    assert not general["is_member"]
    joined = await client.conversations_join(channel=general["id"])
    assert joined["channel"]["is_member"]
    again = await client.conversations_join(channel=general["id"])
    assert again["response_metadata"]["warnings"] == ["already_in_channel"]


async def test_private_channels_are_invisible_to_non_members(slack: LocalSlackServer,
                                                             client: AsyncWebClient) -> None:
    slack.add_channel("hr-only", members=["U0ALICE"], is_private=True)
    assert await slack_error(client.conversations_info(channel="hr-only")) == "channel_not_found"
    assert await slack_error(client.chat_postMessage(channel="hr-only", text="x")) == (
        "channel_not_found")


async def test_invite_errors_and_force(slack: LocalSlackServer, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-invite"))["channel"]["id"]
    assert await slack_error(client.conversations_invite(channel="C0NOPE", users="U0ALICE")) == (
        "channel_not_found")
    assert await slack_error(client.conversations_invite(channel=channel_id,
                                                         users="U0NOBODY")) == "user_not_found"
    assert await slack_error(client.conversations_invite(channel=channel_id,
                                                         users=BOT_USER_ID)) == "cant_invite_self"
    assert await slack_error(client.conversations_invite(channel="incidents",
                                                         users="U0ALICE")) == "not_in_channel"

    invited = await client.conversations_invite(channel=channel_id, users=["U0ALICE", "U0BOB"])
    assert invited["channel"]["num_members"] == 3
    assert await slack_error(client.conversations_invite(channel=channel_id,
                                                         users="U0ALICE")) == "already_in_channel"
    with pytest.raises(SlackApiError) as info:
        await client.conversations_invite(channel=channel_id, users="U0ONCALL1,U0GHOST",
                                          force=True)
    assert info.value.response["errors"] == [
        {"user": "U0GHOST", "ok": False, "error": "user_not_found"}]
    assert slack.members(channel_id) == [BOT_USER_ID, "U0ALICE", "U0BOB", "U0ONCALL1"]
    members = await client.conversations_members(channel=channel_id)
    assert members["members"] == slack.members("inc-invite")


# --- messages --------------------------------------------------------------------------------


async def test_incident_channel_round_trip(slack: LocalSlackServer,
                                           client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-7-fraud"))["channel"]["id"]
    await client.conversations_invite(channel=channel_id, users="U0ONCALL1")
    topic = await client.conversations_setTopic(channel=channel_id, topic="SEV1 | fraud model")
    assert topic["channel"]["topic"]["value"] == "SEV1 | fraud model"
    assert await slack_error(client.conversations_setTopic(channel=channel_id,
                                                           topic="x" * 251)) == "too_long"

    posted = await client.chat_postMessage(channel=channel_id, text="SEV1 declared",
                                           blocks=[SECTION])
    ts = posted["ts"]
    assert posted["channel"] == channel_id
    assert posted["message"]["user"] == BOT_USER_ID and posted["message"]["bot_id"] == "B0BOT"
    assert posted["message"]["blocks"] == [SECTION]
    updated = await client.chat_update(channel=channel_id, ts=ts, text="SEV1 acknowledged")
    assert updated["ts"] == ts and updated["text"] == "SEV1 acknowledged"
    assert updated["message"]["blocks"] == [SECTION]  # kept: the update left blocks out
    await client.pins_add(channel=channel_id, timestamp=ts)
    assert await slack_error(client.pins_add(channel=channel_id, timestamp=ts)) == (
        "already_pinned")
    assert await slack_error(client.pins_add(channel=channel_id, timestamp="1.000001")) == (
        "message_not_found")
    reply = await client.chat_postMessage(channel=channel_id, thread_ts=ts, text="timeline")

    headline = slack.messages("inc-7-fraud")[0]
    assert headline.text == "SEV1 acknowledged" and headline.edit_count == 1
    assert headline.history[0].text == "SEV1 declared"
    assert [m.text for m in slack.pins(channel_id)] == ["SEV1 acknowledged"]
    assert [m.is_reply for m in slack.messages(channel_id)] == [False, True]
    assert [m.ts for m in slack.thread_messages(channel_id, ts)] == [ts, reply["ts"]]
    assert slack.channel_by_name("#inc-7-fraud").topic.value == "SEV1 | fraud model"
    pins = await client.pins_list(channel=channel_id)
    assert pins["items"][0]["message"]["ts"] == ts
    history = await client.conversations_history(channel=channel_id)
    assert [m["ts"] for m in history["messages"]] == [ts]
    assert history["messages"][0]["reply_count"] == 1
    replies = await client.conversations_replies(channel=channel_id, ts=ts)
    assert [m["text"] for m in replies["messages"]] == ["SEV1 acknowledged", "timeline"]
    later = await client.conversations_history(channel=channel_id, oldest=ts)
    assert later["messages"] == []
    inclusive = await client.conversations_history(channel=channel_id, oldest=ts, inclusive=True)
    assert [m["ts"] for m in inclusive["messages"]] == [ts]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_by_name_and_message_errors(slack: LocalSlackServer,
                                               client: AsyncWebClient) -> None:
    by_hash = await client.chat_postMessage(channel="#incident-escalations", text="one")
    by_name = await client.chat_postMessage(channel="incident-escalations", text="two")
    assert by_hash["channel"] == by_name["channel"] == slack.channel_id("incident-escalations")
    assert float(by_hash["ts"]) < float(by_name["ts"])
    assert BOT_USER_ID not in slack.members("incident-escalations")  # chat:write.public

    async def error(**kwargs: object) -> str:
        return await slack_error(client.chat_postMessage(**kwargs))

    assert await error(channel="#nowhere", text="x") == "channel_not_found"
    assert await error(channel="incidents") == "no_text"
    assert await error(channel="incidents", text="x" * 40_001) == "msg_too_long"
    assert await error(channel="incidents", blocks=[{"text": "no type"}]) == "invalid_blocks"
    assert await error(channel="incidents", blocks=[{"type": "divider"}] * 51) == (
        "invalid_blocks")
    assert await error(channel="incidents", text="x", thread_ts="1.000001") == "thread_not_found"
    assert len(slack.messages("incidents")) == 0


async def test_bot_must_join_without_auto_join() -> None:
    with LocalSlackServer(auto_join_bot=False) as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)
        assert await slack_error(client.chat_postMessage(channel="incidents", text="x")) == (
            "not_in_channel")
        await client.conversations_join(channel="incidents")
        assert (await client.chat_postMessage(channel="incidents", text="x"))["ok"]


async def test_update_delete_ownership_and_timestamps(slack: LocalSlackServer,
                                                      client: AsyncWebClient) -> None:
    alice = AsyncWebClient(token="xoxp-alice", base_url=slack.base_url)
    mine = await alice.chat_postMessage(channel="general", text="mine")
    assert await slack_error(client.chat_update(channel="general", ts=mine["ts"],
                                                text="hijack")) == "cant_update_message"
    assert await slack_error(client.chat_update(channel="general", ts="1.000001",
                                                text="x")) == "message_not_found"
    assert await slack_error(client.chat_delete(channel="general", ts=mine["ts"])) == (
        "cant_delete_message")
    stamps = [(await client.chat_postMessage(channel="general", text=str(n)))["ts"]
              for n in range(20)]
    assert len(set(stamps)) == 20 and stamps == sorted(stamps, key=float)
    assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
    await client.chat_delete(channel="general", ts=stamps[0])
    assert stamps[0] not in [m.ts for m in slack.messages("general")]


async def test_ephemeral_permalink_reactions_bookmarks(slack: LocalSlackServer,
                                                       client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="incidents", text="status"))["ts"]
    eph = await client.chat_postEphemeral(channel="incidents", user="U0ALICE", text="only you")
    assert eph["message_ts"]
    assert slack.ephemerals("incidents")[0].user == "U0ALICE"
    link = await client.chat_getPermalink(channel="incidents", message_ts=ts)
    assert link["permalink"].endswith(f"/p{ts.replace('.', '')}")

    await client.reactions_add(channel="incidents", timestamp=ts, name="eyes")
    assert await slack_error(client.reactions_add(channel="incidents", timestamp=ts,
                                                  name="eyes")) == "already_reacted"
    got = await client.reactions_get(channel="incidents", timestamp=ts)
    assert got["message"]["reactions"] == [{"name": "eyes", "users": [BOT_USER_ID], "count": 1}]
    await client.reactions_remove(channel="incidents", timestamp=ts, name="eyes")

    added = await client.bookmarks_add(channel_id=slack.channel_id("incidents"),
                                       title="Runbook", type="link", link="https://r.example")
    assert added["bookmark"]["title"] == "Runbook"
    listed = await client.bookmarks_list(channel_id=slack.channel_id("incidents"))
    assert [b["link"] for b in listed["bookmarks"]] == ["https://r.example"]


async def test_direct_messages_by_user_id(slack: LocalSlackServer,
                                          client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U0ENGMGR1", text="you are paged")
    opened = await client.conversations_open(users="U0ENGMGR1")
    assert posted["channel"] == opened["channel"]["id"] and posted["channel"].startswith("D0")
    assert [m.text for m in slack.messages(posted["channel"])] == ["you are paged"]
    manager = (await client.users_lookupByEmail(email="eng-manager@example.com"))["user"]
    assert manager["id"] == "U0ENGMGR1"


async def test_users_and_usergroups(client: AsyncWebClient) -> None:
    alice = (await client.users_info(user="U0ALICE"))["user"]
    assert alice["name"] == "alice" and not alice["is_bot"]
    assert await slack_error(client.users_info(user="U0NOBODY")) == "user_not_found"
    ids = [u["id"] for u in (await client.users_list())["members"]]
    assert {"U0BOT", "U0ONCALL1", "U0MLLEAD1", "U0ENGMGR1", "U0VPENG01"} <= set(ids)
    groups = (await client.usergroups_list(include_users=True))["usergroups"]
    assert "S0MLONCALL" in [g["id"] for g in groups]
    members = await client.usergroups_users_list(usergroup="S0MLONCALL")
    assert "U0ONCALL1" in members["users"]
    assert await slack_error(client.usergroups_users_list(usergroup="S0NONE")) == (
        "no_such_subteam")


# --- views, files, response_url --------------------------------------------------------------


async def test_views_open_update_and_publish(slack: LocalSlackServer,
                                             client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id="123.456.abc", view=MODAL))["view"]
    assert re.fullmatch(r"V0[A-Z0-9]{9}", opened["id"])
    assert opened["state"] == {"values": {}} and opened["callback_id"] == "declare"
    updated = await client.views_update(view_id=opened["id"], view={**MODAL, "blocks": []},
                                        hash=opened["hash"])
    assert updated["view"]["id"] == opened["id"] and updated["view"]["blocks"] == []
    assert await slack_error(client.views_update(view_id=opened["id"], view=MODAL,
                                                 hash=opened["hash"])) == "hash_conflict"
    assert await slack_error(client.views_open(trigger_id="1", view={"type": "page"})) == (
        "invalid_arguments")
    assert await slack_error(client.views_open(trigger_id="1", view={"type": "modal"})) == (
        "invalid_arguments")
    home = {"type": "home", "blocks": [SECTION]}
    first = await client.views_publish(user_id="U0ALICE", view=home)
    second = await client.views_publish(user_id="U0ALICE", view=home)
    assert first["view"]["id"] == second["view"]["id"]
    assert len(slack.views()) == 2


async def test_file_upload_v2_round_trip(slack: LocalSlackServer,
                                         client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-files"))["channel"]["id"]
    parent = (await client.chat_postMessage(channel=channel_id, text="postmortem"))["ts"]
    content = "# Postmortem\n\nroot cause: drift\n"
    uploaded = await client.files_upload_v2(channel=channel_id, content=content,
                                            filename="postmortem.md", title="Postmortem",
                                            initial_comment="draft", thread_ts=parent)
    file_id = uploaded["file"]["id"]
    assert slack.file_content(file_id) == content.encode()
    message = slack.messages(channel_id)[-1]
    assert message.thread_ts == parent and message.text == "draft"
    assert message.files is not None and message.files[0]["title"] == "Postmortem"
    info = await client.files_info(file=file_id)
    assert info["file"]["name"] == "postmortem.md" and info["file"]["channels"] == [channel_id]
    async with httpx.AsyncClient() as http:
        download = await http.get(info["file"]["url_private"])
    assert download.content == content.encode()
    sync = WebClient(token=TOKEN, base_url=slack.base_url)
    assert sync.files_upload_v2(channel="incidents", content=b"\x00\x01",
                                filename="b.bin")["file"]["size"] == 2


async def test_response_url_records_what_it_receives(slack: LocalSlackServer) -> None:
    url = slack.response_url("cmd-1")
    assert url.startswith(slack.root_url)
    webhook = AsyncWebhookClient(url)
    sent = await webhook.send(text="Working on it", response_type="ephemeral")
    assert sent.status_code == 200
    await webhook.send(text="Done", blocks=[SECTION], replace_original=True)
    posts = slack.responses("cmd-1")
    assert [p["text"] for p in posts] == ["Working on it", "Done"]
    assert posts[1]["replace_original"] is True and posts[1]["blocks"] == [SECTION]
    assert slack.responses("other") == []
    async with httpx.AsyncClient() as http:
        recorded = await http.get(url)
    assert recorded.json()["responses"] == posts


# --- faults ----------------------------------------------------------------------------------


def test_429_carries_retry_after(slack: LocalSlackServer, http: httpx.Client) -> None:
    slack.faults.add("chat.*", status=429, retry_after=7, times=1)
    response = http.post(f"{slack.base_url}chat.postMessage",
                         data={"token": TOKEN, "channel": "incidents", "text": "x"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"ok": False, "error": "ratelimited"}
    assert slack.messages("incidents") == []


async def test_rate_limit_retry_handler_retries_then_succeeds(slack: LocalSlackServer) -> None:
    slack.faults.add("chat.postMessage", status=429, retry_after=0, times=1)
    client = AsyncWebClient(token=TOKEN, base_url=slack.base_url,
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    posted = await client.chat_postMessage(channel="incidents", text="eventually")
    assert posted["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 200]
    assert [m.text for m in slack.messages("incidents")] == ["eventually"]


async def test_server_errors_are_injected_and_recorded(slack: LocalSlackServer,
                                                       client: AsyncWebClient) -> None:
    slack.faults.add("conversations.create", status=500, times=1)
    slack.faults.add("pins.*", status=503)
    with pytest.raises(SlackApiError) as info:
        await client.conversations_create(name="inc-500")
    assert info.value.response.status_code == 500
    assert info.value.response["error"] == "internal_error"
    assert slack.channel_by_name("inc-500") is None
    assert (await client.conversations_create(name="inc-500"))["ok"]
    ts = (await client.chat_postMessage(channel="inc-500", text="x"))["ts"]
    with pytest.raises(SlackApiError) as info:
        await client.pins_add(channel="inc-500", timestamp=ts)
    assert info.value.response.status_code == 503
    assert [c.status for c in slack.calls("conversations.create")] == [500, 200]
    slack.faults.clear()
    assert (await client.pins_add(channel="inc-500", timestamp=ts))["ok"]


def _fault_pattern(slack: LocalSlackServer) -> list[int]:
    slack.faults.add("auth.test", status=500, rate=0.3)
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        return [http.post(f"{slack.base_url}auth.test").status_code for _ in range(60)]


def test_probabilistic_faults_are_seeded(slack: LocalSlackServer) -> None:
    pattern = _fault_pattern(slack)
    assert 6 <= pattern.count(500) <= 30
    assert set(pattern) == {200, 500}
    slack.faults.clear()  # also restarts the seeded random sequence
    assert _fault_pattern(slack) == pattern
    assert [c.status for c in slack.calls("auth.test")] == pattern + pattern


def test_faults_expire_after_times_and_until(slack: LocalSlackServer) -> None:
    slack.faults.add("auth.test", status=500, rate=1.0, until=0.15)
    slack.faults.add("users.info", status=500, times=2)
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        def status(method: str) -> int:
            return http.post(f"{slack.base_url}{method}", data={"user": "U0BOB"}).status_code

        assert status("auth.test") == 500
        assert [status("users.info") for _ in range(3)] == [500, 500, 200]
        time.sleep(0.2)
        assert status("auth.test") == 200


FUZZ_PARAMS = ["channel", "channel_id", "users", "user", "user_id", "name", "text", "blocks",
               "attachments", "ts", "thread_ts", "timestamp", "message_ts", "limit", "cursor",
               "oldest", "latest", "inclusive", "types", "force", "topic", "is_private", "view",
               "view_id", "external_id", "hash", "trigger_id", "filename", "length", "files",
               "file", "title", "link", "type", "usergroup", "email", "metadata", "channels"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=5)
FUZZ_VALUES = JSON_VALUES | st.sampled_from(
    ["general", "#incidents", "U0ALICE", "U0BOT", "1.000001", "-1", '[{"type": "divider"}]'])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(sorted(METHODS)),
       params=st.dictionaries(st.sampled_from(FUZZ_PARAMS), FUZZ_VALUES, max_size=5),
       as_form=st.booleans())
def test_arbitrary_params_never_break_the_server(slack: LocalSlackServer, http: httpx.Client,
                                                 method: str, params: dict[str, object],
                                                 as_form: bool) -> None:
    url = f"{slack.base_url}{method}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if as_form:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        response = http.post(url, data=form, headers=headers)
    else:
        response = http.post(url, json=params, headers=headers)
    assert response.status_code == 200
    assert isinstance(response.json()["ok"], bool)


# --- control surface and lifecycle -----------------------------------------------------------


def test_local_control_surface(slack: LocalSlackServer) -> None:
    root = slack.root_url
    with httpx.Client(base_url=root) as http:
        added = http.post("/_local/faults", json={"method": "auth.*", "status": 503, "times": 1})
        assert added.json()["fault"]["method_glob"] == "auth.*"
        assert http.get("/_local/faults").json()["faults"][0]["status"] == 503
        assert http.post("/_local/faults", json={"status": 42}).status_code == 400
        assert http.post("/_local/faults", json={"bogus": 1}).status_code == 400
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert http.post("/api/auth.test", headers=headers).status_code == 503
        assert http.post("/api/auth.test", headers=headers).status_code == 200
        http.post("/_local/faults", json={"method_glob": "*", "status": 500})
        assert http.delete("/_local/faults").json()["ok"]
        assert http.post("/api/auth.test", headers=headers).status_code == 200

        calls = http.get("/_local/calls", params={"method": "auth.test"}).json()["calls"]
        assert [c["status"] for c in calls] == [503, 200, 200]
        http.post("/api/conversations.create", headers=headers, data={"name": "inc-temp"})
        state = http.get("/_local/state").json()
        assert "inc-temp" in [c["name"] for c in state["channels"]]
        assert http.delete("/_local/calls").json()["ok"] and slack.calls() == []
        http.post("/api/chat.postMessage", headers=headers,
                  data={"channel": "incidents", "text": "x"})
        assert http.post("/_local/reset").json()["ok"]
    assert slack.channel_by_name("inc-temp") is None
    assert slack.messages("incidents") == [] and slack.calls() == []


def test_constructor_options_add_users_and_channels() -> None:
    from sandbox import User

    with LocalSlackServer(users=[User("U0CAROL", "carol")],
                          channels=[ChannelSpec("ml-alerts", members=("U0CAROL",),
                                                topic="alerts")]) as slack:
        client = WebClient(token=TOKEN, base_url=slack.base_url)
        assert client.users_info(user="U0CAROL")["user"]["name"] == "carol"
        info = client.conversations_info(channel=slack.channel_id("ml-alerts"))["channel"]
        assert info["topic"]["value"] == "alerts" and info["num_members"] == 1


def test_start_is_fast_and_stop_is_clean() -> None:
    before = set(threading.enumerate())
    started = time.monotonic()
    server = LocalSlackServer().start()
    assert time.monotonic() - started < 1.0
    assert server.base_url == f"http://127.0.0.1:{server.port}/api/"
    WebClient(token=TOKEN, base_url=server.base_url).auth_test()
    server.stop()
    leftovers = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftovers == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.root_url}")
