"""Two bot processes behind a round-robin share one PostgreSQL.

A storm split across both (the same alerts reaching both replicas, as retries and a balancer
make happen) opens one incident and one channel per service, and each escalation timer of
those incidents fires once, by one replica: the levels (the last one pages until resolved), the
backup on-call's page and the mitigation and resolution deadlines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from sandbox.pagerduty_api import LocalPagerDutyServer
from storage.models import TimelineEvent, Timer
from tests.faults.checks import (
    assert_one_channel_per_incident,
    assert_stored_exactly_once,
)
from tests.faults.storm import PD_SECRET, RetryingSenders, build_storm
from tests.faults.tcp_proxy import Backend, TcpProxy
from tests.handlers.webhooks.sns_fixtures import DEFAULT_TOPIC_ARN
from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import Database
from tests.scenarios.processes import BotProcess

pytestmark = [pytest.mark.long, pytest.mark.postgres]

SERVICES = ["multimodal-api", "scoring-api", "ticket-classifier", "ai-orchestrator", "document-classifier"]
LEVELS = 4
CONFIG = {
    "channels": {"announce": "incidents", "escalations": "incident-escalations"},
    "routing": [{"match": {"service": service}, "severity": "P1"} for service in SERVICES],
    "escalation": {"default": [
        {"after": "0m", "notify": {"users": ["U0ONCALL1"]}},
        {"after": "30m", "notify": {"users": ["U0MLLEAD1"]}, "routing_key": "R0LEADKEY"},
        {"after": "1h", "notify": {"users": ["U0ENGMGR1"]}},
        {"after": "2h", "notify": {"users": ["U0VPENG01"]}, "until": "resolved"},
    ]},
    "oncall": {"backup": {"users": ["U0BOB"]}, "backup_after": "45m"},  # seed 000's backup on-call
    "severities": {"P1": {"mitigate_within": "1h", "resolve_within": "2h"}},  # each missed once per incident
    # Half an hour passes in a second, so the levels are due while the storm is still going.
    "time_scale": 1800,
}


@pytest.fixture
def pagerduty():  # type: ignore[no-untyped-def]
    with LocalPagerDutyServer() as server:
        yield server


def test_two_replicas_behind_a_round_robin_open_each_incident_once_and_fire_each_timer_once(
        slack, postgres_url: str, pagerduty: LocalPagerDutyServer, sns_certs: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG))
    replicas = [BotProcess(slack_url=slack.base_url, database_url=postgres_url, config_path=config_path,
                           log_path=tmp_path / f"replica-{n}.log", PAGERDUTY_WEBHOOK_SECRETS=PD_SECRET,
                           SNS_CERTS_DIR=str(sns_certs), SNS_TOPIC_ARNS=DEFAULT_TOPIC_ARN, TIMER_TICK_INTERVAL="0.1",
                           PAGERDUTY_EVENTS_URL=pagerduty.url) for n in range(2)]
    db = Database(postgres_url)
    storm = build_storm(services=SERVICES, alerts_per_service=6, repeats=4)
    try:
        for replica in replicas:
            replica.start()
        pids = {str(replica.pid) for replica in replicas}
        with TcpProxy([Backend("127.0.0.1", r.port) for r in replicas]) as balancer:
            # One connection per request, so the balancer alternates requests, not clients.
            report = RetryingSenders(f"http://{balancer.address}", storm, clients=16, fresh_connections=True,
                                     give_up_after=180).start().wait(timeout=240)
            assert balancer.connections >= len(storm)
        assert report.unacked() == []
        db.wait_outbox_drained(timeout=120)

        assert_stored_exactly_once(db, storm)
        incidents = assert_one_channel_per_incident(db, slack, incidents=len(SERVICES))
        assert {incident.severity for incident in incidents} == {"P1"}

        escalated = wait_for(lambda: _escalations(db) if len(_escalations(db)) >= len(SERVICES) * LEVELS else None,
                             timeout=60, what="every level of every incident")
        assert len(escalated) == len(set(escalated)) == len(SERVICES) * LEVELS
        backups = wait_for(lambda: _backups(db) if len(_backups(db)) >= len(SERVICES) else None,
                           timeout=60, what="the backup on-call of every incident")
        missed = wait_for(lambda: _missed(db) if len(_missed(db)) >= len(SERVICES) * 2 else None,
                          timeout=60, what="both deadlines of every incident")
        db.wait_outbox_drained(timeout=60)
        assert sorted(backups) == sorted(set(backups)) == sorted(_backups(db))
        assert len(missed) == len(set(missed)) == len(_missed(db)) == len(SERVICES) * 2
        with db.engine.connect() as conn:
            fired = conn.execute(select(Timer.fired_by, func.count()).where(Timer.state == "fired")
                                 .group_by(Timer.fired_by)).all()
        # Fired by the replicas and nobody else (host:pid), each timer by one of them.
        assert fired and all(by is not None and by.rsplit(":", 1)[-1] in pids for by, _ in fired), fired
        assert len(pagerduty.events()) == len(SERVICES), "level 2 pages PagerDuty once per incident"
        for replica in replicas:
            assert "Traceback" not in replica.log_path.read_text()
    finally:
        for replica in replicas:
            replica.stop()
        db.dispose()


def _escalations(db: Database) -> list[tuple[int, int]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "escalated")).all()
    return [(row.incident_id, row.data["level"]) for row in rows if not row.data.get("backup")]


def _backups(db: Database) -> list[int]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "escalated")).all()
    return [row.incident_id for row in rows if row.data.get("backup")]


def _missed(db: Database) -> list[tuple[int, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(TimelineEvent).where(TimelineEvent.kind == "deadline_missed")).all()
    return [(row.incident_id, row.data["deadline"]) for row in rows]
