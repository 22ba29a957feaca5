"""The sandbox's welcome in #general: what a newcomer clicks first, and how fast the demo's clock runs."""

from __future__ import annotations

from bot.config import IncidentBotConfig
from bot.config.durations import format_duration


def welcome_text(config: IncidentBotConfig) -> str:
    """Three first steps, then the clock: the escalations a person can wait for, in real time."""
    later = [level.after for level in config.escalation_levels()[1:3]]
    clock = ""
    if later:
        when = " and again after ".join(format_duration(config.scaled(after)) for after in later)
        clock = (f"\nTimers run {config.time_scale:g}× faster than configured: leave an incident unacknowledged "
                 f"and it escalates after {when} (configured: {', '.join(format_duration(a) for a in later)}); "
                 "managers follow it in #incident-escalations.")
    return ("Welcome! This page stands in for Slack; the incident bot behind it is the real one.\n"
            "1. Pick a scenario from the menu on the left (P95 latency after a deploy is a good first one).\n"
            "2. Open the new #inc-… channel, press Join channel, then Acknowledge on the pinned headline.\n"
            "3. Take command: type /incident role commander @alice (Alice is a commander here).\n"
            "Switch people with “Acting as”; /incident help lists every command." + clock)
