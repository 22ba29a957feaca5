"""What must hold after a storm, however it was disturbed: each delivery once, each channel once."""

from __future__ import annotations

from sqlalchemy import func, select

from sandbox.slack_api import LocalSlackServer
from storage.models import Alert, Incident, WebhookDelivery
from tests.faults.storm import Delivery
from tests.scenarios.harness import Database


def assert_stored_exactly_once(db: Database, storm: list[Delivery]) -> None:
    db.wait_inbox_applied(timeout=120)  # what was acknowledged is applied after the 2xx
    with db.engine.connect() as conn:
        stored = conn.execute(select(WebhookDelivery.source, WebhookDelivery.delivery_id)).all()
        unapplied = conn.scalar(select(func.count()).select_from(WebhookDelivery)
                                .where(WebhookDelivery.outcome.in_(("pending", "failed"))))
        occurrences = conn.scalar(select(func.coalesce(func.sum(Alert.occurrences), 0)))
        alerts = conn.scalar(select(func.count()).select_from(Alert))
    assert unapplied == 0
    assert len(stored) == len(set(stored)) == len(storm)
    assert set(stored) == {(d.source, d.delivery_id) for d in storm}
    # Each delivery counted once against its alert: a delivery stored but not counted, or
    # counted twice (a retry after a lost answer), would show here.
    assert occurrences == len(storm)
    assert alerts == len({d.alert_key for d in storm})


def assert_one_channel_per_incident(db: Database, slack: LocalSlackServer, *, incidents: int) -> list[Incident]:
    with db.engine.connect() as conn:
        rows = list(conn.execute(select(Incident).order_by(Incident.number)).all())
    assert len(rows) == incidents, [(r.number, r.title) for r in rows]
    assert all(r.channel_id and r.headline_ts for r in rows), [(r.number, r.channel_id, r.headline_ts) for r in rows]
    created = [call for call in slack.calls("conversations.create") if call.ok]
    assert len(created) == incidents, "a channel was created twice for one incident"
    assert len({r.channel_id for r in rows}) == incidents
    for row in rows:
        headlines = [m for m in slack.pins(row.channel_id) if m.ts == row.headline_ts]
        assert len(headlines) == 1
        posted = [m for m in slack.messages(row.channel_id) if m.ts == row.headline_ts]
        assert len(posted) == 1
    return rows
