"""The Web API methods of the sandbox: a dispatch table from method name to handler.

Each handler takes the workspace and one authenticated ``Call`` and returns the response body
without ``ok``, or raises ``SlackError``. ``dispatch`` holds the workspace lock around the
whole call, so a handler sees and leaves consistent state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from sandbox.methods.chat import (
    chat_delete,
    chat_get_permalink,
    chat_post_ephemeral,
    chat_post_message,
    chat_update,
)
from sandbox.methods.conversations import (
    conversations_archive,
    conversations_create,
    conversations_history,
    conversations_info,
    conversations_invite,
    conversations_join,
    conversations_leave,
    conversations_list,
    conversations_members,
    conversations_open,
    conversations_replies,
    conversations_set_purpose,
    conversations_set_topic,
    conversations_unarchive,
)
from sandbox.methods.files import (
    files_complete_upload_external,
    files_get_upload_url_external,
    files_info,
)
from sandbox.methods.items import (
    bookmarks_add,
    bookmarks_list,
    pins_add,
    pins_list,
    pins_remove,
    reactions_add,
    reactions_get,
    reactions_remove,
)
from sandbox.methods.people import (
    api_test,
    auth_test,
    usergroups_list,
    usergroups_users_list,
    users_info,
    users_list,
    users_lookup_by_email,
)
from sandbox.methods.views import views_open, views_publish, views_push, views_update
from sandbox.models import BOT_USER_ID, SlackError
from sandbox.workspace import Call, Workspace

Handler = Callable[[Workspace, Call], dict[str, Any]]

METHODS: Mapping[str, Handler] = MappingProxyType({
    "api.test": api_test,
    "auth.test": auth_test,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
    "conversations.create": conversations_create,
    "conversations.info": conversations_info,
    "conversations.list": conversations_list,
    "conversations.join": conversations_join,
    "conversations.leave": conversations_leave,
    "conversations.members": conversations_members,
    "conversations.invite": conversations_invite,
    "conversations.setTopic": conversations_set_topic,
    "conversations.setPurpose": conversations_set_purpose,
    "conversations.archive": conversations_archive,
    "conversations.unarchive": conversations_unarchive,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "pins.add": pins_add,
    "pins.remove": pins_remove,
    "pins.list": pins_list,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
    "bookmarks.add": bookmarks_add,
    "bookmarks.list": bookmarks_list,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.info": files_info,
})


# Methods that Slack answers without a token.
UNAUTHENTICATED = frozenset({"api.test"})


def dispatch(workspace: Workspace, method: str, params: dict[str, Any], token: str | None,
             root_url: str) -> dict[str, Any]:
    """Run one Web API method and return its response body, ``ok`` included."""
    handler = METHODS.get(method)
    try:
        if handler is None:
            raise SlackError("unknown_method")
        with workspace.lock:
            caller = (workspace.users[BOT_USER_ID] if method in UNAUTHENTICATED
                      else workspace.user_for_token(token))
            body = handler(workspace, Call(params, caller, root_url))
    except SlackError as exc:
        return {"ok": False, "error": exc.code, **exc.extra}
    return {"ok": True, **body}
