"""`/incident help`, also shown for an unknown or missing subcommand."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.text import escape_mrkdwn
from bot.slack.blocks import context, section
from handlers.slack.commands.base import COMMAND, Invocation, Subcommand
from handlers.slack.context import Reply


def help_blocks(subcommands: tuple[Subcommand, ...], *, unknown: str | None) -> tuple[str, list[dict]]:
    lines = [f"{sub.usage_line}  {sub.summary}" for sub in subcommands]
    intro = f"*How to use `{COMMAND}`*"
    if unknown:
        intro = f"⚠️ `{escape_mrkdwn(unknown[:40])}` isn't a subcommand I know.\n" + intro
    text = intro + "\n" + "\n".join(lines)
    return text, [
        section(intro),
        section("\n".join(lines)),
        context("Commands that act on an incident work in that incident's own channel."),
    ]


async def show_help(invocation: Invocation, *, subcommands: tuple[Subcommand, ...], unknown: str | None = None) -> None:
    text, blocks = help_blocks(subcommands, unknown=unknown)
    await invocation.ack(**Reply(text=text, blocks=blocks).ack_kwargs())


def help_subcommand(subcommands: Callable[[], tuple[Subcommand, ...]]) -> Subcommand:
    """The `help` subcommand, listing `subcommands()`: the router's table, which holds this one too."""

    async def run(invocation: Invocation) -> None:
        await show_help(invocation, subcommands=subcommands())

    return Subcommand(name="help", usage="help", summary="Show this help.", run=run)
