"""Which writer delivers each kind of outbox row: one explicit table, checked complete when built.

Every ``OutboxKind`` names exactly one writer: the Slack writers of bot/slack, or the PagerDuty
status sync and paging of bot/integrations. A row of a kind the table does not know is refused
for good (``NoWriter``); it never falls through to a default writer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from bot.core.outbox import OutboxKind
from bot.integrations.pagerduty_sync import PagerDutySync
from bot.integrations.paging import PagerDutyPaging
from bot.outbox.errors import MissingWriters, NoWriter

# Delivers one row: (kind, payload, attempt number starting at 1), as the dispatcher performs it.
Writer = Callable[[str, dict[str, Any], int], Awaitable[None]]


class SlackKindWriter(Protocol):
    """A Slack writer that serves several kinds and picks the write by the row's kind."""

    async def perform(self, kind: str, payload: dict[str, Any]) -> None: ...


class OutboxWriters:
    def __init__(self, writers: Mapping[OutboxKind, Writer]) -> None:
        missing = [kind.value for kind in OutboxKind if kind not in writers]
        if missing:
            raise MissingWriters(missing)
        self._writers = {OutboxKind(kind): writer for kind, writer in writers.items()}

    def kinds(self) -> frozenset[OutboxKind]:
        return frozenset(self._writers)

    async def perform(self, kind: str, payload: dict[str, Any], attempt: int) -> None:
        try:
            writer = self._writers[OutboxKind(kind)]
        except (ValueError, KeyError):
            raise NoWriter(kind) from None
        await writer(kind, payload, attempt)


def outbox_writers(
    *, slack: SlackKindWriter, escalations: SlackKindWriter, postmortems: SlackKindWriter,
    checklists: SlackKindWriter, pagerduty_status: PagerDutySync, paging: PagerDutyPaging,
    budgets: SlackKindWriter, notices: SlackKindWriter,
) -> OutboxWriters:
    """The bot's table: each kind to the writer that knows how to deliver it."""
    to_slack = _by_kind(slack)
    to_escalations = _by_kind(escalations)
    to_postmortems = _by_kind(postmortems)

    async def sync_pagerduty_status(_kind: str, payload: dict[str, Any], attempt: int) -> None:
        await pagerduty_status.perform(payload, attempt)

    async def send_page(_kind: str, payload: dict[str, Any], _attempt: int) -> None:
        await paging.perform(payload)

    return OutboxWriters({
        OutboxKind.PROVISION_CHANNEL: to_slack,
        OutboxKind.REFRESH_HEADLINE: to_slack,
        OutboxKind.POST_TIMELINE_EVENT: to_slack,
        OutboxKind.ALERT_SUMMARY: to_slack,
        OutboxKind.ACTION_MESSAGE: to_slack,
        OutboxKind.ESCALATION_PAGE: to_escalations,
        OutboxKind.MANAGER_THREAD: to_escalations,
        OutboxKind.UPDATE_REMINDER: to_escalations,
        OutboxKind.ANNOUNCE_UPDATE: to_escalations,
        OutboxKind.POSTMORTEM_DRAFT: to_postmortems,
        OutboxKind.POSTMORTEM_MESSAGE: to_postmortems,
        OutboxKind.RUNBOOK_CHECKLIST: _by_kind(checklists),
        OutboxKind.NOTICE: _by_kind(notices),
        OutboxKind.PAGERDUTY_STATUS: sync_pagerduty_status,
        OutboxKind.PAGERDUTY_EVENT: send_page,
        OutboxKind.BUDGET_DIGEST: _by_kind(budgets),
    })


def _by_kind(writes: SlackKindWriter) -> Writer:
    async def write(kind: str, payload: dict[str, Any], _attempt: int) -> None:
        await writes.perform(kind, payload)

    return write
