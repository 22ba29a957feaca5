"""Giving someone an incident role is itself an authorized, audited action.

The incident's commander holds the `commander` role for every action in that incident, so a
role handed out unchecked opens every commander-only action: a person in no RBAC role made
themselves commander with `/incident role commander @self` and then rolled the deployment back.
These tests drive that attack and its neighbours over HTTP against the served bot, with ECS on
a local moto server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.ids import ActionId
from sandbox.aws_seed import SeededProduction
from sandbox.models import UserGroup
from sandbox.slack_api import LocalSlackServer
from storage.models import AuditEntry, RoleAssignment
from tests.inference.moto_server import moto_client
from tests.scenarios.actions_support import (
    button_values,
    confirm,
    declare,
    wait_finished,
)
from tests.scenarios.conftest import production  # noqa: F401  (the seeded moto production)
from tests.scenarios.harness import BotServer, Database, SlackUser

ALICE = "U0ALICE"  # commander through rbac.roles, by name
BOB = "U0BOB"  # approver only
CAROL = "U0CAROL"  # no role at all
DAVE = "U0DAVE"  # commander through the incident-commanders user group
ERIN = "U0ERIN"  # responder through the on-call user group
COMMANDERS_GROUP, ONCALL_GROUP = "S0INCCMDRS", "S0MLONCALL"

CONFIG = """
services:
  multimodal-api:
    ecs: {{cluster: multimodal-prod, service: multimodal-api, min: 2, max: 20}}
    models: [incident-text]
rbac:
  roles:
    responder: {{usergroups: [{oncall}]}}
    commander: {{users: [{alice}], usergroups: [{commanders}]}}
    approver: {{users: [{bob}]}}
  actions:
    scale: [responder, commander]
    rollback: [commander]
    flag: [responder, commander]
    stop: [commander]
{assign_role}
  approval_required: [stop]
actions:
  verify_timeout: 30s
  verify_every: 1s
"""


@pytest.fixture
def role_bot(bot_factory, slack: LocalSlackServer, production: SeededProduction,  # noqa: F811
             aws_env: str, tmp_path: Path):
    slack.add_usergroup(UserGroup(id=COMMANDERS_GROUP, handle="incident-commanders", name="Incident commanders",
                                  users=[DAVE]))
    slack.add_usergroup(UserGroup(id=ONCALL_GROUP, handle="ml-oncall", name="ML on-call", users=[ERIN]))

    def start(*, assign_role: str = "") -> BotServer:
        path = tmp_path / "roles-config.yaml"
        path.write_text(CONFIG.format(oncall=ONCALL_GROUP, commanders=COMMANDERS_GROUP, alice=ALICE, bob=BOB,
                                      assign_role=f"    assign_role: {assign_role}" if assign_role else ""))
        return bot_factory(config_path=str(path), aws_endpoint_url=aws_env)

    return start


def person(bot: BotServer, slack: LocalSlackServer, http, user_id: str) -> SlackUser:
    return SlackUser(bot=bot, slack=slack, user_id=user_id, http=http)


def give(user: SlackUser, role: str, to: str, channel: str) -> str:
    response = user.command(f"role {role} <@{to}|someone>", channel=channel)
    assert response.status_code == 200
    return str(response.json()["text"])


def role_audit(db: Database, *, actor: str | None = None) -> list[Any]:
    query = select(AuditEntry).where(AuditEntry.action == "incident.role").order_by(AuditEntry.id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    with db.engine.connect() as conn:
        return list(conn.execute(query).all())


def current_roles(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(RoleAssignment).where(RoleAssignment.ended_at.is_(None))).all()
    return {row.role: row.user_id for row in rows}


def task_definition(endpoint: str, seeded: SeededProduction) -> str:
    ecs = moto_client(endpoint, "ecs")
    services = ecs.describe_services(cluster=seeded.cluster, services=[seeded.service])["services"]
    return str(services[0]["taskDefinition"])


def test_no_role_user_cannot_make_themselves_commander_and_then_roll_back(
        role_bot, slack, http, db: Database, production: SeededProduction, aws_env: str) -> None:  # noqa: F811
    bot = role_bot()
    alice, carol = person(bot, slack, http, ALICE), person(bot, slack, http, CAROL)
    channel = declare(alice, slack, db)
    assert task_definition(aws_env, production) == production.task_definitions[2]

    # The attack as it was reported: take command, then run a commander-only action.
    taken = give(carol, "commander", CAROL, channel)
    answer = carol.command("rollback deploy multimodal-api", channel=channel).json()
    proposals = button_values(answer.get("blocks"), ActionId.CONFIRM)
    if proposals:  # the hole is open: carry the attack through, so the test shows what it did
        confirm(carol, channel, int(proposals[0]))
        wait_finished(db, int(proposals[0]))

    assert task_definition(aws_env, production) == production.task_definitions[2]  # ECS untouched
    assert not proposals and "🔒" in answer["text"]
    assert "🔒" in taken and "Who can" in taken and f"<@{ALICE}>" in taken
    assert f"<!subteam^{COMMANDERS_GROUP}>" in taken
    assert db.incident(1).commander is None and current_roles(db) == {}
    refused = role_audit(db, actor=CAROL)
    assert [row.outcome for row in refused] == ["denied"]
    assert refused[0].detail["role"] == "commander" and refused[0].detail["user_id"] == CAROL
    assert "commander" in refused[0].detail["reason"]


def test_rbac_commander_takes_command_of_an_unassigned_incident_and_hands_it_over(
        role_bot, slack, http, db: Database) -> None:
    bot = role_bot()
    alice, bob, carol = (person(bot, slack, http, user) for user in (ALICE, BOB, CAROL))
    channel = declare(carol, slack, db)  # anyone may declare; declaring makes nobody commander
    assert db.incident(1).commander is None

    assert "is now commander" in give(alice, "commander", ALICE, channel)
    assert db.incident(1).commander == ALICE
    assert "is now commander" in give(alice, "commander", BOB, channel)  # handing over
    assert db.incident(1).commander == BOB
    # The new commander leads: Bob may name a scribe, though he holds no commander role of his own.
    assert "is now scribe" in give(bob, "scribe", CAROL, channel)
    assert current_roles(db) == {"commander": BOB, "scribe": CAROL}
    assert [(row.actor, row.outcome) for row in role_audit(db)] == [(ALICE, "ok"), (ALICE, "ok"), (BOB, "ok")]

    # Handed over means handed over: Carol, made scribe, still may not take command.
    assert "🔒" in give(carol, "commander", CAROL, channel)
    assert db.incident(1).commander == BOB


def test_someone_who_is_not_commander_cannot_give_scribe_or_comms(role_bot, slack, http, db: Database) -> None:
    bot = role_bot()
    alice, bob, erin = (person(bot, slack, http, user) for user in (ALICE, BOB, ERIN))
    channel = declare(alice, slack, db)
    assert "is now commander" in give(alice, "commander", ALICE, channel)

    for user, role, to in ((bob, "scribe", BOB), (bob, "comms", CAROL), (erin, "comms", ERIN)):
        refusal = give(user, role, to, channel)
        assert "🔒" in refusal and f"<@{ALICE}>" in refusal and "the incident's commander" in refusal, refusal
    assert current_roles(db) == {"commander": ALICE}
    assert [row.outcome for row in role_audit(db, actor=BOB)] == ["denied", "denied"]
    assert [row.outcome for row in role_audit(db, actor=ERIN)] == ["denied"]


def test_a_role_allowed_to_assign_roles_still_cannot_take_an_unled_incident(role_bot, slack, http,
                                                                             db: Database) -> None:
    bot = role_bot(assign_role="[responder, commander]")
    alice, erin = person(bot, slack, http, ALICE), person(bot, slack, http, ERIN)
    channel = declare(erin, slack, db)

    # Erin's responder role may assign roles, but nobody leads this incident yet, and only
    # someone who could act as commander anyway may start leading it.
    refusal = give(erin, "commander", ERIN, channel)
    assert "🔒" in refusal and "no commander" in refusal and f"<@{ALICE}>" in refusal
    assert db.incident(1).commander is None
    assert "is now scribe" in give(erin, "scribe", ERIN, channel)  # what the config does allow her

    assert "is now commander" in give(alice, "commander", ALICE, channel)
    assert [row.outcome for row in role_audit(db, actor=ERIN)] == ["denied", "ok"]


def test_a_commander_group_that_cannot_be_read_refuses_instead_of_trusting(role_bot, slack, http,
                                                                           db: Database) -> None:
    bot = role_bot()
    alice, dave = person(bot, slack, http, ALICE), person(bot, slack, http, DAVE)
    channel = declare(alice, slack, db)
    slack.faults.add("usergroups.users.list", status=200, error="fatal_error")

    refusal = give(dave, "commander", DAVE, channel)
    assert "🔒" in refusal and "Could not check your roles" in refusal
    assert db.incident(1).commander is None
    assert [row.outcome for row in role_audit(db, actor=DAVE)] == ["denied"]

    slack.faults.clear()
    assert "is now commander" in give(dave, "commander", DAVE, channel)  # the group read again: Dave leads
    assert db.incident(1).commander == DAVE
