"""Files upload v2: getUploadURLExternal, the upload itself, completeUploadExternal."""

from __future__ import annotations

from typing import Any

from sandbox.methods.common import checked_blocks, post_message, thread_root
from sandbox.models import SlackError, UploadedFile
from sandbox.workspace import Call, Workspace


def files_get_upload_url_external(ws: Workspace, call: Call) -> dict[str, Any]:
    filename = call.text("filename")
    length = call.number("length", 0)
    if not filename or length <= 0:
        raise SlackError("invalid_arguments")
    file_id = ws.new_id("F0", ws.files)
    ws.files[file_id] = UploadedFile(file_id, filename, length, call.caller.id, ws.now())
    return {"upload_url": f"{call.root_url}upload/{file_id}", "file_id": file_id}


def _completed_uploads(ws: Workspace, call: Call) -> list[tuple[UploadedFile, str]]:
    items = call.params.get("files")
    if not isinstance(items, list) or not items or not all(
            isinstance(i, dict) and i.get("id") for i in items):
        raise SlackError("invalid_arguments")
    uploads = []
    for item in items:
        upload = ws.files.get(str(item["id"]))
        if upload is None:
            raise SlackError("file_not_found")
        if upload.content is None:  # sandbox-specific: the bytes were never POSTed
            raise SlackError("file_upload_not_complete")
        uploads.append((upload, str(item.get("title") or "")))
    return uploads


def files_complete_upload_external(ws: Workspace, call: Call) -> dict[str, Any]:
    uploads = _completed_uploads(ws, call)
    targets = call.items("channels") or [t for t in [call.text("channel_id")] if t]
    # Check every target before sharing anywhere, so a failure leaves nothing half-posted.
    shares = []
    for target in targets:
        channel = ws.writable_channel(Call({"channel": target}, call.caller, call.root_url))
        shares.append((channel, thread_root(channel, call.text("thread_ts"))))
    blocks = checked_blocks(call.params.get("blocks"))
    for upload, title in uploads:
        upload.title = title or upload.title
    for channel, thread_ts in shares:
        message = post_message(ws, channel, call.caller, text=call.text("initial_comment"),
                               blocks=blocks, thread_ts=thread_ts)
        for upload, _ in uploads:
            upload.shares.setdefault(channel.id, []).append(message.ts)
        message.files = [u.to_api(call.root_url) for u, _ in uploads]
    return {"files": [u.to_api(call.root_url) for u, _ in uploads]}


def files_info(ws: Workspace, call: Call) -> dict[str, Any]:
    upload = ws.files.get(call.text("file"))
    if upload is None or upload.content is None:
        raise SlackError("file_not_found")
    return {"file": upload.to_api(call.root_url), "comments": [],
            "response_metadata": {"next_cursor": ""}}
