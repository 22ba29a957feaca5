"""The Slack app manifest asks for what the bot listens to: its shortcuts, events and scopes."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack.ids import CallbackId

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yaml").read_text())


def test_every_message_shortcut_the_bot_handles_is_in_the_manifest() -> None:
    shortcuts = {s["callback_id"]: s["type"] for s in MANIFEST["features"]["shortcuts"]}
    assert shortcuts == {CallbackId.DIAGNOSTIC_SHORTCUT.value: "message",
                         CallbackId.ADD_TO_TIMELINE_SHORTCUT.value: "message"}


def test_timeline_capture_events_and_their_scopes_are_requested() -> None:
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"reaction_added", "reaction_removed", "message.channels", "member_joined_channel"} <= events
    assert {"reactions:read", "channels:history", "files:write", "chat:write"} <= scopes


def test_the_postmortem_may_read_peoples_names() -> None:
    assert "users:read" in MANIFEST["oauth_config"]["scopes"]["bot"]  # users.info, for names in the draft


def test_a_schedules_on_call_may_be_found_by_email() -> None:
    assert "users:read.email" in MANIFEST["oauth_config"]["scopes"]["bot"]  # users.lookupByEmail


def test_a_security_incidents_private_channel_may_be_created_and_followed() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert {"groups:write", "groups:history"} <= scopes and "message.groups" in events
    assert "groups:read" in scopes  # found again (conversations.list) after a try cut off
