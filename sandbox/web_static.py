"""The web UI's files: the page, its scripts and style from ``sandbox/ui``, and uploaded files.

Only the names in :data:`UI_FILES` are served from the package; the scripts are plain browser
JavaScript that ``index.html`` loads in order, with no build step. An uploaded file is served
inline only when a browser can show it without running anything (raster images, plain text).
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_JS = "text/javascript; charset=utf-8"
# Every file under ui/ that the page may fetch, with its type. The scripts, in index.html's order.
UI_FILES = {"dom.js": _JS, "client.js": _JS, "mrkdwn.js": _JS, "blocks.js": _JS, "messages.js": _JS,
            "modal.js": _JS, "lightbox.js": _JS, "app.js": _JS, "app.css": "text/css; charset=utf-8",
            "lightbox.css": "text/css; charset=utf-8"}
_INLINE_IMAGES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
                  "webp": "image/webp"}
_TEXT_FILES = frozenset({"md", "markdown", "txt", "log", "json", "csv", "yaml", "yml", "html", "py"})


def ui_file(name: str) -> bytes:
    return resources.files("sandbox").joinpath("ui", name).read_bytes()


def page(request: Request) -> Response:
    # <base> makes every URL in the page and its scripts relative to /ui/, wherever this app is mounted.
    base = request.scope.get("root_path", "").rstrip("/") + "/ui/"
    html = ui_file("index.html").decode().replace("__UI_BASE__", base)
    return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    name = request.path_params["asset"]
    if name not in UI_FILES:
        return JSONResponse({"ok": False, "error": f"no file {name!r}"}, status_code=404)
    return Response(ui_file(name), media_type=UI_FILES[name], headers={"Cache-Control": "no-cache"})


def uploaded_file(content: bytes | None, name: str) -> Response:
    """An uploaded file (``content``, None if there is no such file) under the name in its URL."""
    if content is None:
        return JSONResponse({"ok": False, "error": "no such file"}, status_code=404)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    # Raster images inline, text as plain text (never HTML or SVG: a file must not run script).
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    if extension in _INLINE_IMAGES:
        return Response(content, media_type=_INLINE_IMAGES[extension], headers=headers)
    if extension in _TEXT_FILES:
        return Response(content, media_type="text/plain; charset=utf-8", headers=headers)
    headers["Content-Disposition"] = "attachment"
    return Response(content, media_type="application/octet-stream", headers=headers)
