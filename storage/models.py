"""SQLAlchemy models: the durable record of every incident.

Slack is a view of these tables. Anything a person saw in Slack can be rebuilt from here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    # The full title as given; Slack only ever sees a sanitised copy.
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16), index=True)
    service: Mapped[str | None] = mapped_column(String(200))
    runbook_class: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(32), index=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    headline_ts: Mapped[str | None] = mapped_column(String(32))
    announcement_channel_id: Mapped[str | None] = mapped_column(String(32))
    announcement_ts: Mapped[str | None] = mapped_column(String(32))
    commander: Mapped[str | None] = mapped_column(String(32))
    declared_by: Mapped[str] = mapped_column(String(64))
    declared_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Compare-and-swap guard: every change bumps it, and a writer that read an older value
    # loses and re-reads, so a late ack can never overwrite a resolve.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Where it came from ("slack", "pagerduty", "cloudwatch", "eventbridge") and, for PagerDuty,
    # the PagerDuty incident that Slack-side acks and resolves are synced back to.
    source: Mapped[str] = mapped_column(String(16), default="slack")
    pagerduty_incident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The highest escalation level paged so far (-1: none yet), and the manager thread in the
    # escalations channel: ``escalated_at`` is set with the first escalation, before Slack has
    # the parent message; ``escalation_ts`` once Slack returned it.
    escalation_level: Mapped[int] = mapped_column(Integer, default=-1)
    escalated_at: Mapped[datetime | None]
    escalation_channel_id: Mapped[str | None] = mapped_column(String(32))
    escalation_ts: Mapped[str | None] = mapped_column(String(32))

    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="incident", lazy="raise")


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (Index("ix_role_assignments_current", "incident_id", "role", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    incident: Mapped[Incident] = relationship(back_populates="roles", lazy="raise")


class TimelineEvent(Base):
    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_incident_time", "incident_id", "occurred_at", "id"),
        Index("uq_timeline_capture", "incident_id", "source_ts", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Alert events: when a storm summary in the channel counted this one.
    summarized_at: Mapped[datetime | None]
    # Captured Slack messages (a 📌, the shortcut): the message's ts, one entry per message.
    source_ts: Mapped[str | None] = mapped_column(String(32))


class AuditEntry(Base):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxMessage(Base):
    """A Slack write that must happen, kept until Slack has taken it.

    Rows that share an ``ordering_key`` (one per channel) are delivered strictly in id order.
    """

    __tablename__ = "slack_outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "state", "ordering_key", "id"),
        UniqueConstraint("coalesce_key", name="uq_outbox_coalesce_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ordering_key: Mapped[str] = mapped_column(String(64))
    # Set while a coalescable write (a headline refresh) is pending, so a burst of changes
    # queues one refresh; cleared once it is taken, so the next change queues a new one.
    coalesce_key: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The work that queued this write (a webhook delivery, a Slack request, a timer, an action),
    # so the logs of its Slack calls carry the same correlation id as the work's own.
    correlation_id: Mapped[str | None] = mapped_column(String(160))


class WebhookDelivery(Base):
    """Every verified webhook delivery, once: the unique keys are what make retries and replays harmless.

    ``delivery_id`` is the signed id of the event (PagerDuty ``event.id``, SNS ``MessageId``,
    EventBridge ``id``). ``webhook_id`` is PagerDuty's unsigned ``X-Webhook-Id``, a second key:
    a delivery that repeats either one is a duplicate. NULLs never collide, so other sources
    leave it empty.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id", name="uq_webhook_delivery"),
        UniqueConstraint("source", "webhook_id", name="uq_webhook_delivery_webhook_id"),
        # The inbox's queue: pending rows in arrival order.
        Index("ix_webhook_deliveries_outcome", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[str] = mapped_column(String(200))
    webhook_id: Mapped[str | None] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    received_at: Mapped[datetime]
    body: Mapped[str] = mapped_column(Text)
    # The parsed signal, kept from the append (before the 2xx) to the apply (after it); see
    # bot/core/inbox.py. None on rows applied before the inbox existed.
    signal: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class InboxLease(Base):
    """One row, locked by the transaction that applies inbox deliveries: one process at a time."""

    __tablename__ = "inbox_lease"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Alert(Base):
    """One alerting thing (a PagerDuty incident, a CloudWatch alarm) within one incident."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("incident_id", "dedup_key", name="uq_alert_per_incident"),
        Index("ix_alerts_dedup_key", "dedup_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    pagerduty_incident_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IncidentGroup(Base):
    """The open incident that new alerts for a grouping key (a service) attach to.

    The primary key makes "first alert opens the incident" safe under concurrency: of two
    deliveries racing to open one, exactly one inserts the row; the other attaches.
    """

    __tablename__ = "incident_groups"

    group_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    last_alert_at: Mapped[datetime]


class ResponseAction(Base):
    """One guarded action (scale, roll back, set a flag, stop), from proposal to verified result.

    ``active_target`` holds the target's key while the action runs and is cleared when it ends;
    its unique constraint is what stops two people changing the same thing at once (NULLs do
    not clash, so finished actions never block). ``version`` guards each state change, so a
    double click or Slack's retry moves the row once.
    """

    __tablename__ = "response_actions"
    __table_args__ = (
        UniqueConstraint("active_target", name="uq_response_actions_active_target"),
        Index("ix_response_actions_state_expiry", "state", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(24))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    needs_approval: Mapped[bool] = mapped_column(default=False)
    dry_run: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    progress: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active_target: Mapped[str | None] = mapped_column(String(300))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)


class Timer(Base):
    """Something that must happen at a time: an escalation, a response deadline, a reminder.

    The scheduler claims rows whose ``due_at`` has passed and fires each in the same
    transaction that marks it ``fired``, so a restart loses none and two replicas never fire
    one twice. ``payload`` carries what the firing needs (the level, how many updates missed).
    """

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_state_due", "state", "due_at"),
                      Index("uq_timers_unique_key", "unique_key", unique=True))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None for a timer that belongs to no incident: the error-budget check and the daily digest.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    # Set on timers that several replicas may each schedule (the next budget check, tomorrow's
    # digest): the unique index lets exactly one of them insert it.
    unique_key: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    # Who fired it (host:pid), for the two-replica record; and failures so far.
    fired_by: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class FollowUp(Base):
    """An action item from an incident: what, who, by when, and whether it is done."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(32))
    due_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None]


class Postmortem(Base):
    """An incident's review: its drafts, where the current one was posted, and its state.

    ``current_draft`` is the newest draft's number; ``posted_draft`` the one Slack shows, so a
    failed post is told apart from a posted one and can be retried. ``version`` guards state
    changes, so two reviewers pressing Approve at once record two reviews and one approval.
    """

    __tablename__ = "postmortems"
    __table_args__ = (UniqueConstraint("incident_id", name="uq_postmortems_incident"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    current_draft: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_draft: Mapped[int | None] = mapped_column(Integer)
    post_error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)


class PostmortemDraft(Base):
    """One rendering of a postmortem, kept: drafts are versioned, never overwritten."""

    __tablename__ = "postmortem_drafts"
    __table_args__ = (
        UniqueConstraint("postmortem_id", "number", name="uq_postmortem_draft_number"),
        UniqueConstraint("request_id", name="uq_postmortem_draft_request"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # The outbox row that asked for it: a retried delivery finds its draft instead of adding one.
    request_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    markdown: Mapped[str] = mapped_column(Text)
    # The numbers the summary message shows (durations, counts), as computed for this draft.
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    file_id: Mapped[str | None] = mapped_column(String(32))


class PostmortemReview(Base):
    """A reviewer's decision on one draft: approved, or changes requested with a comment."""

    __tablename__ = "postmortem_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    draft_number: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]


class IncidentRunbook(Base):
    """The runbook an incident follows, how it was chosen, and where its checklist is pinned.

    ``runbook`` is empty while none is chosen (no rule matched and the text model was unsure
    or unreachable); ``suggestion`` then keeps what the model thought, for the person to pick.
    """

    __tablename__ = "incident_runbooks"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    runbook: Mapped[str | None] = mapped_column(String(64))
    chosen_by: Mapped[str] = mapped_column(String(16))  # routing, match, model, person, none
    reason: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    suggestion: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(64))
    chosen_at: Mapped[datetime]
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)


class RunbookStep(Base):
    """One checklist step of one incident that someone has touched: done, or waiting on an action.

    Steps nobody touched have no row. Rows are kept per runbook, so switching runbooks and back
    finds the ticks where they were.
    """

    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("incident_id", "runbook", "step_id", name="uq_runbook_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    runbook: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(150))  # as the runbook had it, for the timeline
    state: Mapped[str] = mapped_column(String(16))  # open, acting, done
    action_id: Mapped[int | None] = mapped_column(ForeignKey("response_actions.id", ondelete="SET NULL"), index=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None]


class SlackRequestSeen(Base):
    """A signed Slack request already taken, until its timestamp leaves the signature window.

    Shared by every bot process on the database, so a request captured and replayed to another
    replica is refused too; the primary key makes "first one wins" safe under concurrency.
    """

    __tablename__ = "slack_requests_seen"

    signature: Mapped[str] = mapped_column(String(100), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ReplayReference(Base):
    """What one model version answered for a pinned set of inputs the first time the Determinism
    investigation replayed them (seed 004: same input, same output). Later replays of that version
    must match it; a set whose inputs change (``inputs_hash``) gets a reference of its own.
    """

    __tablename__ = "replay_references"
    __table_args__ = (UniqueConstraint("model", "version", "inputs_hash", name="uq_replay_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(32))
    inputs_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the inputs, in order
    # sha256 over the version's file digests from its manifest, "" when the worker did not say:
    # the same version name over other weights is a changed model, not a nondeterministic one.
    weights_digest: Mapped[str] = mapped_column(String(64))
    input_count: Mapped[int] = mapped_column(Integer)
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"label", "scores"}] in input order
    service: Mapped[str] = mapped_column(String(200))
    incident_number: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime]


class IncidentBudget(Base):
    """An incident's share of its service's error budget, as the budget check last measured it.

    The headline and the postmortem show these figures; they are never read from CloudWatch
    while rendering. ``incident_bad`` counts the failed events since the incident was declared
    (to its resolution, once resolved); the window figures are the budget's so far.
    """

    __tablename__ = "incident_budgets"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(200))
    measured_at: Mapped[datetime]
    target: Mapped[float] = mapped_column(Float)
    window_start: Mapped[datetime]
    window_total: Mapped[float] = mapped_column(Float)
    window_bad: Mapped[float] = mapped_column(Float)
    incident_total: Mapped[float] = mapped_column(Float)
    incident_bad: Mapped[float] = mapped_column(Float)
    burn_rate: Mapped[float | None] = mapped_column(Float)  # over the last hour
