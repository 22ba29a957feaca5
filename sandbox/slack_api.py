"""A local Slack Web API server over real HTTP, for tests and the browser sandbox.

The real ``slack_sdk`` clients work against it unchanged::

    with LocalSlackServer() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        await client.chat_postMessage(channel="#incidents", text="hello")
        assert slack.messages("incidents")[-1].text == "hello"

Routes:

- ``/api/<method>`` (GET or POST; JSON, urlencoded or multipart bodies): the Web API. Answers
  HTTP 200 with ``{"ok": ...}`` as Slack does, unless a fault was injected.
- ``POST /upload/<file_id>``: where ``files.getUploadURLExternal`` sends the bytes.
- ``GET /files/<file_id>/<name>``: an uploaded file's bytes.
- ``/ui/...``: the browser UI (``sandbox.web``); ``GET /`` serves it too once a bot is
  attached (``web=BotLink(...)`` or ``attach_bot``), and otherwise answers this server's JSON.
- ``/_local/...``: a control surface for other processes: ``POST|GET|DELETE /_local/faults``,
  ``GET|DELETE /_local/calls``, ``POST /_local/reset``, ``GET /_local/state``, and
  ``POST|GET /_local/respond/<name>`` (a slash command's response_url).

``SlackSandbox`` is the ASGI app with its state, for mounting in-process; ``LocalSlackServer``
runs one under uvicorn on a background thread. ``python -m sandbox.slack_api --port 3000``
serves one by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.faults import FaultInjector
from sandbox.methods import dispatch
from sandbox.models import Channel, ChannelSpec, Ephemeral, Message, User, UserGroup
from sandbox.recording import CallRecorder, RecordedCall, ResponseInbox
from sandbox.web import BotLink, SandboxWeb, Scenario
from sandbox.workspace import Workspace, WorkspaceConfig

logger = logging.getLogger(__name__)

# Params that Slack takes as JSON, which form-encoded clients send as strings.
JSON_PARAMS = frozenset({"blocks", "attachments", "files", "view", "metadata"})
# Params that Slack takes as comma-separated lists.
LIST_PARAMS = frozenset({"users", "types", "channels"})


class BadRequest(Exception):
    """A body Slack would refuse before looking at the method (answered with this code)."""


# --- request parsing -------------------------------------------------------------------------


def _multipart_fields(body: bytes, content_type: str) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name and part.get_filename() is None:  # file parts (files.upload v1) are ignored
            fields[str(name)] = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return fields


def _body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if kind == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("invalid_json") from exc
        if not isinstance(data, dict):
            raise BadRequest("json_not_object")
        return data
    if kind == "multipart/form-data":
        return _multipart_fields(body, content_type)
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def normalize_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parse JSON-valued and list-valued params the way Slack reads them.

    A JSON param that does not parse stays a string, so the method answers with its own
    error code (``invalid_blocks_format``, ``invalid_arguments``).
    """
    out = dict(params)
    for name in JSON_PARAMS & out.keys():
        if isinstance(out[name], str) and out[name].strip():
            with contextlib.suppress(ValueError):
                out[name] = json.loads(out[name])
    for name in LIST_PARAMS & out.keys():
        if isinstance(out[name], str):
            out[name] = [v.strip() for v in out[name].split(",") if v.strip()]
    return out


async def read_call(request: Request) -> tuple[dict[str, Any], str | None]:
    """Merged query and body params, and the token (Authorization header first)."""
    params: dict[str, Any] = dict(request.query_params)
    params.update(_body_fields(await request.body(), request.headers.get("content-type", "")))
    token = params.pop("token", None)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    return normalize_params(params), (str(token) if token else None)


# --- the app ---------------------------------------------------------------------------------


class SlackSandbox:
    """The local Slack Web API: workspace state, faults, call log, and the ASGI app (``app``).

    Mount ``app`` in another ASGI app, or serve it with ``serve()``; ``LocalSlackServer``
    runs it on a background thread. Helper methods read state for tests and are thread-safe.
    """

    def __init__(self, *, users: Iterable[User] = (), channels: Iterable[ChannelSpec] = (),
                 usergroups: Iterable[UserGroup] = (), include_defaults: bool = True,
                 auto_join_bot: bool = True, seed: int = 0,
                 tokens: Mapping[str, str] | None = None, root_url: str | None = None,
                 web: BotLink | None = None, scenarios: Sequence[Scenario] = ()) -> None:
        self.workspace = Workspace(WorkspaceConfig(
            users=users, channels=channels, usergroups=usergroups,
            include_defaults=include_defaults, auto_join_bot=auto_join_bot, seed=seed,
            tokens=dict(tokens or {})))
        self.faults = FaultInjector(seed)
        self.root_url = root_url
        self._recorder = CallRecorder()
        self._responses = ResponseInbox()
        self.web = SandboxWeb(self, link=web, scenarios=scenarios)
        self.app = Starlette(routes=self._routes())

    def attach_bot(self, link: BotLink) -> None:
        """Wire the web UI to a bot whose URL is only known after the sandbox started."""
        self.web.attach_bot(link)

    def add_scenarios(self, scenarios: Sequence[Scenario]) -> None:
        """Offer more scenarios in the web UI's menu (names must be new)."""
        self.web.add_scenarios(scenarios)

    def _routes(self) -> list[BaseRoute]:
        return [
            *self.web.routes(),
            Route("/", self._index, methods=["GET"]),
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/upload/{file_id}", self._upload, methods=["POST", "PUT"]),
            Route("/files/{file_id}/{name}", self._download, methods=["GET"]),
            Route("/_local/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/_local/calls", self._calls, methods=["GET", "DELETE"]),
            Route("/_local/reset", self._reset, methods=["POST"]),
            Route("/_local/state", self._state, methods=["GET"]),
            Route("/_local/respond/{name}", self._respond, methods=["GET", "POST"]),
        ]

    # Web API

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        headers: dict[str, str]
        try:
            params, token = await read_call(request)
        except BadRequest as exc:
            params, token = {}, None
            status, body, headers = 200, {"ok": False, "error": str(exc)}, {}
        else:
            status, body, headers = self._answer(method, params, token, str(request.base_url))
        self._recorder.record(method, params, status, body, token)
        return JSONResponse(body, status_code=status, headers=headers)

    def _answer(self, method: str, params: dict[str, Any], token: str | None,
                root_url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        fault = self.faults.pick(method)
        if fault is not None:
            return fault.status, fault.body, fault.headers
        try:
            return 200, dispatch(self.workspace, method, params, token, root_url), {}
        except Exception:  # a sandbox bug must show up as a 500, not hang the client
            logger.exception("slack sandbox failed on %s", method)
            return 500, {"ok": False, "error": "internal_error"}, {}

    async def _upload(self, request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.lower().startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
            parts = list(message.iter_parts())
            payload = parts[0].get_payload(decode=True) if parts else None
            body = payload if isinstance(payload, bytes) else b""
        if not self.workspace.store_upload(request.path_params["file_id"], body):
            return Response("file not found", status_code=404)
        return Response(f"OK - {len(body)}", media_type="text/plain")

    async def _download(self, request: Request) -> Response:
        content = self.workspace.file_content(request.path_params["file_id"])
        if content is None:
            return Response("file not found", status_code=404)
        return Response(content, media_type="application/octet-stream")

    # control surface

    async def _index(self, request: Request) -> Response:
        if self.web.link is not None:
            return await self.web.page(request)
        root = str(request.base_url)
        return JSONResponse({"ok": True, "service": "local slack sandbox",
                             "base_url": f"{root}api/", "control": f"{root}_local/"})

    async def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                spec = await request.json()
                if "method" in spec:
                    spec["method_glob"] = spec.pop("method")
                rule = self.faults.add(**spec)
            except (ValueError, TypeError, AttributeError) as exc:
                return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
            return JSONResponse({"ok": True, "fault": self.faults.describe(rule)})
        return JSONResponse({"ok": True, "faults": self.faults.rules()})

    async def _calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_calls()
            return JSONResponse({"ok": True})
        calls = self.calls(request.query_params.get("method"))
        return JSONResponse({"ok": True, "calls": [c.to_json() for c in calls]})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _state(self, request: Request) -> Response:
        return JSONResponse({"ok": True, **self.workspace.state()})

    async def _respond(self, request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "GET":
            return JSONResponse({"ok": True, "responses": self.responses(name)})
        try:
            fields = _body_fields(await request.body(), request.headers.get("content-type", ""))
            if isinstance(fields.get("payload"), str):  # form-encoded like incoming webhooks
                fields = json.loads(fields["payload"])
        except (BadRequest, ValueError):
            return Response("invalid_payload", status_code=400)
        self._responses.add(name, fields)
        self.web.on_response(name, fields)
        return JSONResponse({"ok": True})

    # helpers for tests and the demo

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Recorded Web API calls in order, faulted ones included; optionally one method's."""
        return self._recorder.calls(method)

    def clear_calls(self) -> None:
        self._recorder.clear()

    async def wait_for_call(self, method: str | None = None, *, count: int = 1,
                            timeout: float = 5.0,
                            where: Callable[[RecordedCall], bool] | None = None
                            ) -> list[RecordedCall]:
        """Wait until ``count`` calls (of ``method``, matching ``where``) were recorded."""
        return await self._recorder.wait_for(method, count=count, timeout=timeout, where=where)

    def reset(self) -> None:
        """Back to the starting workspace, with no calls, faults or responses."""
        self.workspace.reset()
        self.faults.clear()
        self._recorder.clear()
        self._responses.clear()

    def add_user(self, user: User) -> None:
        self.workspace.add_user(user)

    def add_usergroup(self, group: UserGroup) -> None:
        self.workspace.add_usergroup(group)

    def add_channel(self, spec: ChannelSpec | str, *, members: Iterable[str] = (),
                    is_private: bool = False) -> str:
        """Create a channel directly (no API call, not recorded); returns its id."""
        if isinstance(spec, str):
            spec = ChannelSpec(spec, is_private=is_private, members=tuple(members))
        return self.workspace.add_channel(spec)

    def channel_by_name(self, name: str) -> Channel | None:
        """A snapshot of a channel, by name (``#`` optional) or id; None if there is none."""
        return self.workspace.snapshot_channel(name)

    def channel_id(self, name: str) -> str:
        return self.workspace.require_channel(name).id

    def messages(self, channel: str, *, include_replies: bool = True) -> list[Message]:
        """A channel's current messages in posting order; replies have ``is_reply`` set."""
        return self.workspace.messages(channel, include_replies=include_replies)

    def thread_messages(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread: its parent first, then the replies."""
        return self.workspace.messages(channel, thread_ts=thread_ts)

    def pins(self, channel: str) -> list[Message]:
        """The pinned messages of a channel, in pinning order."""
        return self.workspace.pinned(channel)

    def members(self, channel: str) -> list[str]:
        return list(self.workspace.require_channel(channel).members)

    def ephemerals(self, channel: str) -> list[Ephemeral]:
        return list(self.workspace.require_channel(channel).ephemerals)

    def views(self) -> list[dict[str, Any]]:
        """Views opened, pushed or published, as the API returned them."""
        return self.workspace.open_views()

    def file_content(self, file_id: str) -> bytes | None:
        return self.workspace.file_content(file_id)

    def response_url(self, name: str) -> str:
        """A response_url on this server for a slash-command or interaction payload."""
        if self.root_url is None:
            raise RuntimeError("the sandbox does not know its URL yet: start it or pass root_url")
        return f"{self.root_url}_local/respond/{name}"

    def responses(self, name: str) -> list[dict[str, Any]]:
        """What was posted to ``response_url(name)``, in order."""
        return self._responses.get(name)


# --- running it ------------------------------------------------------------------------------


def _uvicorn_config(app: Any, **kwargs: Any) -> uvicorn.Config:
    # log_config=None: leave the host process's logging set-up alone.
    return uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                          lifespan="off", timeout_graceful_shutdown=2, **kwargs)


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


async def serve(sandbox: SlackSandbox, *, host: str = "127.0.0.1", port: int = 3000) -> None:
    """Serve a sandbox on the running event loop until cancelled (for the demo)."""
    sandbox.root_url = f"http://{_url_host(host)}:{port}/"
    await uvicorn.Server(_uvicorn_config(sandbox.app, host=host, port=port)).serve()


class LocalSlackServer(SlackSandbox):
    """A ``SlackSandbox`` served by uvicorn on a background thread.

    ``port=0`` picks a free port; ``base_url`` (``http://127.0.0.1:<port>/api/``) is what
    ``slack_sdk`` clients and ``SLACK_API_URL`` take. Use as a context manager, or call
    ``start()`` and ``stop()``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        super().__init__(**options)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"{self._require_root()}api/"

    def _require_root(self) -> str:
        if self.root_url is None:
            raise RuntimeError("LocalSlackServer is not started")
        return self.root_url

    def start(self, timeout: float = 5.0) -> LocalSlackServer:
        if self._thread is not None:
            return self
        # Binding here, not in uvicorn, lets port 0 pick a free port that we can read back.
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
        # without it keep-alive responses stall ~40 ms on delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.root_url = f"http://{_url_host(self.host)}:{self.port}/"
        self._server = uvicorn.Server(_uvicorn_config(self.app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"slack-sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local Slack server did not start")
            time.sleep(0.002)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():  # connections that would not close: stop waiting for them
                server.force_exit = True
                thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> LocalSlackServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a local Slack Web API sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-auto-join-bot", action="store_true",
                        help="the bot must join public channels before posting in them")
    parser.add_argument("--bot-url", help="wire the web UI to a bot listening here (signing secret "
                                          "from SLACK_SIGNING_SECRET, not the command line)")
    args = parser.parse_args(argv)
    secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    if args.bot_url and not secret:
        parser.error("--bot-url needs SLACK_SIGNING_SECRET set to the bot's signing secret")
    sandbox = SlackSandbox(seed=args.seed, auto_join_bot=not args.no_auto_join_bot,
                           web=BotLink(args.bot_url, secret) if args.bot_url else None)
    root = f"http://{_url_host(args.host)}:{args.port}/"
    print(f"Slack sandbox: SLACK_API_URL={root}api/ ; web UI at {root}ui/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(sandbox, host=args.host, port=args.port))


if __name__ == "__main__":
    main()
