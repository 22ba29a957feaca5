"""The sandbox's web UI: a Slack-shaped page over the sandbox workspace, wired to a real bot.

The browser never signs anything and never sees the signing secret. It POSTs small JSON bodies
here (who is acting, where, on what); this module builds the payload Slack would send, signs
it (HMAC v0) and forwards it to the bot's ``/slack/events``, then applies the bot's answer as
the Slack client would: a slash command's JSON answer and posts to a response_url become
messages only that person sees (``replace_original`` and ``delete_original`` honoured), and a
view submission's ``response_action`` updates, pushes or closes that person's modals.

Routes, all under ``/ui`` (``GET /`` serves the page too once a bot is attached):

- ``GET /ui/`` the page; ``GET /ui/<name>.js``, ``GET /ui/app.css`` its scripts and style.
- ``GET /ui/api/state?user=U...`` what that person sees: channels, messages, pins, their
  ephemeral messages and modal stack, scenarios, and the sandbox's welcome banner (``greet``).
  An ETag makes an unchanged poll a 304.
- ``GET /ui/files/<id>/<name>`` an uploaded file with a type a browser can show inline.
- ``POST /ui/api/{command,message,join,action,shortcut,reaction,dismiss,view/submit,
  view/close,scenario}`` (JSON bodies) what a person does. Bad input is a 4xx with
  ``{"ok": false, "error": "..."}``; a forwarded request answers 200 with the bot's status and
  body under ``bot``, and ``ok`` false when the bot refused it.

``SandboxWeb`` offers the same actions as coroutines, for scenarios that want their clicks to
show in the page exactly as a person's would.

The parts live in sibling modules: ``web_bodies`` (request bodies, ``WebError``), ``web_forms``
(Block Kit elements, ``state.values``), ``web_payloads`` (what Slack sends the bot, signed),
``web_replies`` (the bot's answers applied), ``web_state`` (one person's view),
``web_scenarios`` and ``web_static`` (the page's files).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import web_static
from sandbox.mentions import Directory, escape_mentions
from sandbox.methods import METHODS
from sandbox.methods import views as view_methods
from sandbox.models import BOT_USER_ID, TEAM_ID, Ephemeral, Message, SlackError, User
from sandbox.web_bodies import (
    REACTION,
    ActionBody,
    Body,
    CommandBody,
    FormValues,
    JoinBody,
    MessageBody,
    MessageRef,
    ReactionBody,
    ScenarioBody,
    ShortcutBody,
    ViewCloseBody,
    ViewSubmitBody,
    WebError,
    read_body,
    refused,
)
from sandbox.web_forms import action_of, find_element, form_state
from sandbox.web_payloads import (
    BotAnswer,
    channel_name,
    channel_type,
    event_envelope,
    interaction,
    new_trigger_id,
    outcome_of,
    post_to_bot,
    slash_command_form,
    view_with_state,
)
from sandbox.web_replies import (
    ReplyTarget,
    ReplyTargets,
    apply_reply,
    apply_response_action,
)
from sandbox.web_scenarios import Scenario, ScenarioRun, ScenarioRunner
from sandbox.web_state import (
    acting_person,
    member_channel,
    open_view,
    person_state,
    seen_channel,
    state_response,
)
from sandbox.workspace import Call, Workspace

__all__ = ["MESSAGE_SHORTCUTS", "SLASH_COMMANDS", "BotLink", "SandboxHost", "SandboxWeb", "Scenario", "ScenarioRun",
           "WebError", "Welcome"]

SLASH_COMMANDS = ("/incident",)
# The app's message shortcuts, as manifest.yaml declares them (a test keeps the two in step).
MESSAGE_SHORTCUTS: Mapping[str, str] = {
    "add_to_timeline": "Add to timeline",
    "run_diagnostic_inference": "Run diagnostic inference",
}
MAX_REMEMBERED_TARGETS = 2000
_SLASH = re.compile(r"(/[A-Za-z0-9_-]+)(?:\s+(.*))?", re.DOTALL)


@dataclass(frozen=True)
class BotLink:
    """Where the bot listens, and the secret Slack would sign its requests with."""

    bot_url: str  # e.g. "http://127.0.0.1:8000"; the UI posts to f"{bot_url}/slack/events"
    signing_secret: str = field(repr=False)

    @property
    def events_url(self) -> str:
        return f"{self.bot_url.rstrip('/')}/slack/events"


@dataclass(frozen=True)
class Welcome:
    """The sandbox's banner for newcomers, shown at the top of one channel (by name)."""

    channel: str
    text: str


class SandboxHost(Protocol):
    """What the UI needs from the sandbox that serves it (`sandbox.slack_api.SlackSandbox`)."""

    workspace: Workspace
    root_url: str | None  # None until the sandbox knows where it listens

    def response_url(self, name: str) -> str: ...


class SandboxWeb:
    """The UI's routes, and the same actions as coroutines for scenarios.

    It keeps what the page needs beyond the workspace: the bot link, the scenarios and their
    runs, and where each response_url it handed out answers to.
    """

    def __init__(self, sandbox: SandboxHost, *, link: BotLink | None = None,
                 scenarios: Sequence[Scenario] = ()) -> None:
        self._sandbox = sandbox
        self._link = link
        self._targets = ReplyTargets(MAX_REMEMBERED_TARGETS)
        self._scenarios = ScenarioRunner(scenarios)
        self._welcome: Welcome | None = None

    @property
    def workspace(self) -> Workspace:
        return self._sandbox.workspace

    @property
    def link(self) -> BotLink | None:
        return self._link

    def attach_bot(self, link: BotLink) -> None:
        self._link = link

    def add_scenarios(self, scenarios: Sequence[Scenario]) -> None:
        self._scenarios.add(scenarios)

    def greet(self, text: str, *, channel: str = "general") -> None:
        """Show ``text`` at the top of ``channel`` as the sandbox's own banner: what a newcomer
        clicks first. It is part of the page, not a message, so no bot or person ever posted it."""
        self._welcome = Welcome(channel=channel, text=text)

    def scenarios(self) -> list[Scenario]:
        return self._scenarios.scenarios()

    def scenario_runs(self) -> list[ScenarioRun]:
        return self._scenarios.runs()

    # response_urls

    def _new_response_url(self, target: ReplyTarget) -> str:
        name = f"web-{uuid.uuid4().hex[:16]}"
        self._targets.add(name, target)
        return self._sandbox.response_url(name)

    def _retarget(self, response_url: str, target: ReplyTarget) -> None:
        self._targets.retarget(response_url.rsplit("/", 1)[-1], target)

    def on_response(self, name: str, body: Mapping[str, Any]) -> None:
        """The sandbox got a post to ``response_url(name)``: show it if the UI handed that URL out."""
        target = self._targets.get(name)
        if target is not None:
            apply_reply(self.workspace, target, body)

    def _require_link(self) -> BotLink:
        if self._link is None:
            raise WebError(409, "no bot is attached to this sandbox, so it is read-only "
                                "(start it with web=BotLink(...) or call attach_bot)")
        return self._link

    # talking to the bot

    async def _send(self, body: bytes, content_type: str) -> BotAnswer:
        link = self._require_link()
        return await post_to_bot(link.events_url, link.signing_secret, body, content_type)

    async def _send_form(self, form: Mapping[str, str]) -> BotAnswer:
        return await self._send(urlencode(form).encode(), "application/x-www-form-urlencoded")

    async def _send_payload(self, payload: dict[str, Any]) -> BotAnswer:
        return await self._send_form({"payload": json.dumps(payload)})

    async def _send_event(self, event: dict[str, Any]) -> BotAnswer:
        return await self._send(json.dumps(event_envelope(event)).encode(), "application/json")

    # what a person does

    async def command(self, *, user: str, channel: str, text: str) -> dict[str, Any]:
        """``/incident ...`` typed in a channel: signed to the bot; its JSON answer shown to that
        person only (or in the channel, for ``response_type: in_channel``)."""
        self._require_link()
        match = _SLASH.fullmatch(text.strip())
        if match is None:
            raise WebError(400, "a slash command starts with / (for example /incident help)")
        command, args = match.group(1), (match.group(2) or "").strip()
        if command not in SLASH_COMMANDS:
            raise WebError(404, f"{command} is not a command of this app; try {', '.join(SLASH_COMMANDS)}")
        ws, trigger_id = self.workspace, new_trigger_id()
        with ws.lock:
            person = acting_person(ws, user)
            place = member_channel(ws, person, channel)
            target = ReplyTarget(person.id, place.id)
            response_url = self._new_response_url(target)
            # Slack escapes typed mentions before the app sees them (manifest: should_escape).
            escaped = escape_mentions(args, Directory.of(ws.users.values(), ws.usergroups.values(),
                                                         ws.channels.values()))
            form = slash_command_form(person, place, command, escaped, response_url=response_url,
                                      trigger_id=trigger_id)
            ws.remember_trigger(trigger_id, person.id)
        answer = await self._send_form(form)
        if answer.ok and answer.body:
            body = answer.body if isinstance(answer.body, dict) else {"text": str(answer.body)}
            shown = apply_reply(ws, target, body)
            if shown is not None and body.get("response_type") != "in_channel":
                # A later replace_original on this response_url replaces this answer, as in Slack.
                self._retarget(response_url, dataclasses.replace(target, message_ts=shown, ephemeral=True))
        return outcome_of(answer, trigger_id=trigger_id)

    async def post_message(self, *, user: str, channel: str, text: str,
                           thread_ts: str | None = None) -> dict[str, Any]:
        """A person's plain message; the bot hears of it (a ``message`` event) only where it is a
        member, as the Events API sends it."""
        ws = self.workspace
        with ws.lock:
            person = acting_person(ws, user)
            place = member_channel(ws, person, channel)
            params = {"channel": place.id, "text": text, **({"thread_ts": thread_ts} if thread_ts else {})}
            try:
                posted = METHODS["chat.postMessage"](ws, Call(params, person, self._root_url()))["message"]
            except SlackError as exc:
                raise refused(exc, "posting the message") from None
            delivered = self._link is not None and BOT_USER_ID in place.members
            event = {"type": "message", "channel": place.id, "user": person.id, "text": text,
                     "ts": posted["ts"], "event_ts": posted["ts"], "channel_type": channel_type(place),
                     "team": TEAM_ID, **({"thread_ts": posted["thread_ts"]} if "thread_ts" in posted else {})}
        answer = await self._send_event(event) if delivered else None
        return outcome_of(answer, ts=posted["ts"], delivered=delivered)

    async def join(self, *, user: str, channel: str) -> dict[str, Any]:
        """Join a public channel; the bot hears ``member_joined_channel`` where it is a member
        (it briefs people who join an incident channel late)."""
        ws = self.workspace
        with ws.lock:
            person = acting_person(ws, user)
            place = seen_channel(ws, person, channel)
            if place.is_im or place.is_private or place.is_archived:
                raise WebError(403, f"{person.name} cannot join that channel from here")
            if person.id in place.members:
                return {"ok": True, "bot": None, "already_in_channel": True}
            place.members.append(person.id)
            delivered = self._link is not None and BOT_USER_ID in place.members
            event = {"type": "member_joined_channel", "user": person.id, "channel": place.id, "channel_type": "C",
                     "team": TEAM_ID, "event_ts": f"{time.time():.6f}"}
        answer = await self._send_event(event) if delivered else None
        return outcome_of(answer, delivered=delivered)

    async def act(self, *, user: str, action_id: str, block_id: str | None = None, channel: str | None = None,
                  message_ts: str | None = None, view_id: str | None = None, value: str | None = None,
                  selected: list[str] | None = None, values: FormValues | None = None) -> dict[str, Any]:
        """A button, select, overflow, checkbox or date picker used in a message or an open modal."""
        self._require_link()
        in_message = channel is not None and message_ts is not None
        if (view_id is not None) == in_message or (view_id is not None and channel is not None):
            raise WebError(400, "name either a view (view_id) or a message (channel and message_ts)")
        ws, trigger_id = self.workspace, new_trigger_id()
        with ws.lock:
            person = acting_person(ws, user)
            if view_id is not None:
                payload = self._view_action(person, view_id, action_id, block_id, value, selected, values or {},
                                            trigger_id)
            else:
                assert channel is not None and message_ts is not None
                payload = self._message_action(person, channel, message_ts, action_id, block_id, value, selected,
                                               trigger_id)
            ws.remember_trigger(trigger_id, person.id)
        return outcome_of(await self._send_payload(payload), trigger_id=trigger_id)

    def _view_action(self, person: User, view_id: str, action_id: str, block_id: str | None, value: str | None,
                     selected: list[str] | None, values: FormValues, trigger_id: str) -> dict[str, Any]:
        view = open_view(self.workspace, person, view_id)
        blocks = view.payload.get("blocks")
        action = action_of(find_element(blocks, block_id, action_id), value, selected)
        state, _ = form_state(blocks, values, check=False)
        return interaction("block_actions", person, trigger_id, container={"type": "view", "view_id": view.id},
                            view=view_with_state(view, state), actions=[action])

    def _message_action(self, person: User, channel: str, message_ts: str, action_id: str, block_id: str | None,
                        value: str | None, selected: list[str] | None, trigger_id: str) -> dict[str, Any]:
        place = seen_channel(self.workspace, person, channel)
        message = place.find(message_ts)
        ephemeral = None if message is not None else next(
            (e for e in place.ephemerals if e.message_ts == message_ts and e.user == person.id), None)
        source: Message | Ephemeral | None = message if message is not None else ephemeral
        if source is None:
            raise WebError(404, f"no message {message_ts} in #{place.name}")
        action = action_of(find_element(source.blocks, block_id, action_id), value, selected)
        thread_ts = source.thread_ts
        container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": place.id,
                                     "is_ephemeral": ephemeral is not None}
        if thread_ts:
            container["thread_ts"] = thread_ts
        response_url = self._new_response_url(ReplyTarget(person.id, place.id, message_ts,
                                                          ephemeral=ephemeral is not None, thread_ts=thread_ts))
        fields: dict[str, Any] = {"container": container, "channel": {"id": place.id, "name": channel_name(place)},
                                  "state": {"values": {}}, "response_url": response_url, "actions": [action]}
        if message is not None:  # Slack sends no message with a click on an ephemeral one
            fields["message"] = place.message_api(message)
        return interaction("block_actions", person, trigger_id, **fields)

    async def shortcut(self, *, user: str, channel: str, message_ts: str, callback_id: str) -> dict[str, Any]:
        """A message shortcut from a message's menu (``message_action``)."""
        self._require_link()
        if callback_id not in MESSAGE_SHORTCUTS:
            raise WebError(404, f"the app has no message shortcut {callback_id!r}; it has "
                                f"{', '.join(MESSAGE_SHORTCUTS)}")
        ws, trigger_id = self.workspace, new_trigger_id()
        with ws.lock:
            person = acting_person(ws, user)
            place = seen_channel(ws, person, channel)
            message = place.find(message_ts)
            if message is None:
                raise WebError(404, f"no message {message_ts} in #{place.name}")
            response_url = self._new_response_url(ReplyTarget(person.id, place.id, thread_ts=message.thread_ts))
            payload = interaction("message_action", person, trigger_id, callback_id=callback_id,
                                   action_ts=f"{time.time():.6f}",
                                   channel={"id": place.id, "name": channel_name(place)},
                                   message_ts=message.ts, message=place.message_api(message),
                                   response_url=response_url)
            ws.remember_trigger(trigger_id, person.id)
        return outcome_of(await self._send_payload(payload), trigger_id=trigger_id)

    async def react(self, *, user: str, channel: str, message_ts: str, name: str) -> dict[str, Any]:
        """Add the reaction, or take it back if this person already has it on the message."""
        if not REACTION.fullmatch(name):
            raise WebError(422, f"{name!r} is not a reaction name")
        ws = self.workspace
        with ws.lock:
            person = acting_person(ws, user)
            place = seen_channel(ws, person, channel)
            message = place.find(message_ts)
            if message is None:
                raise WebError(404, f"no message {message_ts} in #{place.name}")
            removed = person.id in message.reactions.get(name, [])
            method = "reactions.remove" if removed else "reactions.add"
            params = {"channel": place.id, "timestamp": message_ts, "name": name}
            try:
                METHODS[method](ws, Call(params, person, self._root_url()))
            except SlackError as exc:
                raise refused(exc, method) from None
            delivered = self._link is not None and BOT_USER_ID in place.members
            event = {"type": "reaction_removed" if removed else "reaction_added", "user": person.id,
                     "reaction": name, "item_user": message.user,
                     "item": {"type": "message", "channel": place.id, "ts": message_ts},
                     "event_ts": f"{time.time():.6f}"}
        answer = await self._send_event(event) if delivered else None
        return outcome_of(answer, reaction=event["type"], delivered=delivered)

    def dismiss(self, *, user: str, channel: str, message_ts: str) -> dict[str, Any]:
        """Dismiss one of this person's "only visible to you" messages."""
        ws = self.workspace
        with ws.lock:
            person = acting_person(ws, user)
            place = seen_channel(ws, person, channel)
            ephemeral = next((e for e in place.ephemerals if e.message_ts == message_ts and e.user == person.id),
                             None)
            if ephemeral is None:
                raise WebError(404, f"{person.name} has no ephemeral message {message_ts} there")
            place.ephemerals.remove(ephemeral)
        return {"ok": True}

    async def submit_view(self, *, user: str, view_id: str, values: FormValues | None = None) -> dict[str, Any]:
        """Submit a modal. Fields the Slack client would refuse come back as ``errors`` (422)
        without reaching the bot; then the bot's ``response_action`` is applied."""
        self._require_link()
        ws, trigger_id = self.workspace, new_trigger_id()
        with ws.lock:
            person = acting_person(ws, user)
            view = open_view(ws, person, view_id)
            state, problems = form_state(view.payload.get("blocks"), values or {}, check=True)
            if problems:
                raise WebError(422, "some fields need attention", errors=problems)
            payload = interaction("view_submission", person, trigger_id, view=view_with_state(view, state),
                                   response_urls=[])
            ws.remember_trigger(trigger_id, person.id)
        answer = await self._send_payload(payload)
        if not answer.ok:
            return outcome_of(answer)
        return outcome_of(answer, **apply_response_action(ws, person.id, view_id, answer.body))

    async def close_view(self, *, user: str, view_id: str) -> dict[str, Any]:
        """The modal's Close (or ×): off the person's screen, and ``view_closed`` to the bot if
        the view asked for it (``notify_on_close``)."""
        ws = self.workspace
        with ws.lock:
            person = acting_person(ws, user)
            view = open_view(ws, person, view_id)
            everything = view.payload.get("clear_on_close") is True
            closed = view_methods.close_views(ws, person.id, view_id, everything=everything)
            notify = self._link is not None and view.payload.get("notify_on_close") is True
            payload = interaction("view_closed", person, None, view=view.to_api(), is_cleared=everything)
        answer = await self._send_payload(payload) if notify else None
        return outcome_of(answer, closed=closed)

    def start_scenario(self, name: str) -> dict[str, Any]:
        return self._scenarios.start(name)

    def state_for(self, user: str | None = None) -> dict[str, Any]:
        """What the page shows one person (the first person in the workspace by default)."""
        ws = self.workspace
        with ws.lock:
            if user is None:
                user = next((u.id for u in ws.users.values() if not u.is_bot), "")
            acting_person(ws, user)
            state = person_state(ws, user)
        state["bot_attached"] = self._link is not None
        state["slash_commands"] = list(SLASH_COMMANDS)
        state["shortcuts"] = [{"callback_id": k, "name": v} for k, v in MESSAGE_SHORTCUTS.items()]
        state["scenarios"] = [{"name": s.name, "title": s.title, "description": s.description}
                              for s in self.scenarios()]
        state["scenario_runs"] = [r.to_json() for r in self.scenario_runs()]
        state["welcome"] = dataclasses.asdict(self._welcome) if self._welcome else None
        return state

    def _root_url(self) -> str:
        return self._sandbox.root_url or ""

    # HTTP

    def routes(self) -> list[BaseRoute]:
        posts: list[tuple[str, type[Body], Callable[..., Any]]] = [
            ("command", CommandBody, self.command),
            ("message", MessageBody, self.post_message),
            ("join", JoinBody, self.join),
            ("action", ActionBody, self.act),
            ("shortcut", ShortcutBody, self.shortcut),
            ("reaction", ReactionBody, self.react),
            ("dismiss", MessageRef, self.dismiss),
            ("view/submit", ViewSubmitBody, self.submit_view),
            ("view/close", ViewCloseBody, self.close_view),
            ("scenario", ScenarioBody, self.start_scenario),
        ]
        return [
            Route("/ui", lambda request: RedirectResponse(request.url.path + "/"), methods=["GET"]),
            Route("/ui/", self.page, methods=["GET"]),
            Route("/ui/api/state", self._state, methods=["GET"]),
            Route("/ui/files/{file_id}/{name}", self._file, methods=["GET"]),
            *[Route(f"/ui/api/{path}", self._endpoint(model, handler), methods=["POST"])
              for path, model, handler in posts],
            Route("/ui/{asset}", web_static.asset, methods=["GET"]),
        ]

    def _endpoint(self, model: type[Body], handler: Callable[..., Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if self._sandbox.root_url is None:  # mounted in another app: learn our URL from the request
                self._sandbox.root_url = str(request.base_url)
            try:
                body = await read_body(request, model)
                result = handler(**body.model_dump())
                if inspect.isawaitable(result):
                    result = await result
            except WebError as exc:
                return exc.response()
            return JSONResponse(result)

        return endpoint

    async def page(self, request: Request) -> Response:
        return web_static.page(request)

    async def _state(self, request: Request) -> Response:
        try:
            state = self.state_for(request.query_params.get("user") or None)
        except WebError as exc:
            return exc.response()
        return state_response(state, request.headers.get("if-none-match"))

    async def _file(self, request: Request) -> Response:
        content = self.workspace.file_content(request.path_params["file_id"])
        return web_static.uploaded_file(content, request.path_params["name"])
