"""RBAC against the local Slack server: roles from config, user groups read through the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import IncidentBotConfig
from bot.core.actions.kinds import Permission
from bot.core.actions.rbac import Authorizer
from bot.slack.gateway import SlackSdkGateway, build_web_client
from sandbox.models import UserGroup
from sandbox.slack_api import LocalSlackServer

RBAC = {
    "roles": {
        "responder": {"usergroups": ["S0MLONCALL"]},
        "commander": {"users": ["U0CMDR"]},
        "approver": {"users": ["U0MGR"]},
    },
    "actions": {"scale": ["responder", "commander"], "stop": ["commander"]},
}


@pytest.fixture
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as server:
        server.add_usergroup(UserGroup(id="S0MLONCALL", handle="ml-oncall", name="ML on-call", users=["U0ALICE"]))
        yield server


def authorizer(slack: LocalSlackServer, rbac: dict | None = None) -> Authorizer:
    config = IncidentBotConfig.from_mapping({"rbac": rbac or RBAC})
    gateway = SlackSdkGateway(build_web_client(token="xoxb-test", base_url=slack.base_url), post_interval=0)
    return Authorizer(rbac=config.rbac, directory=gateway)


async def test_a_user_group_member_holds_its_role(slack: LocalSlackServer) -> None:
    decision = await authorizer(slack).may("U0ALICE", Permission.SCALE)
    assert decision.allowed and decision.roles == ("responder",)


async def test_a_refusal_says_which_roles_and_who_holds_them(slack: LocalSlackServer) -> None:
    decision = await authorizer(slack).may("U0ALICE", Permission.STOP)
    assert not decision.allowed
    assert "*commander*" in decision.reason and "<@U0CMDR>" in decision.reason
    assert "the incident's commander" in decision.reason


async def test_the_incidents_commander_holds_the_commander_role(slack: LocalSlackServer) -> None:
    assert (await authorizer(slack).may("U0BOB", Permission.STOP, commander="U0BOB")).allowed
    assert not (await authorizer(slack).may("U0BOB", Permission.STOP, commander="U0CMDR")).allowed


async def test_an_action_no_role_is_listed_for_is_refused(slack: LocalSlackServer) -> None:
    decision = await authorizer(slack).may("U0CMDR", Permission.FLAG)
    assert not decision.allowed and "rbac.actions" in decision.reason


async def test_membership_that_cannot_be_read_fails_closed(slack: LocalSlackServer) -> None:
    rbac = {**RBAC, "roles": {**RBAC["roles"], "responder": {"usergroups": ["S0MISSING"]}}}
    decision = await authorizer(slack, rbac).may("U0ALICE", Permission.SCALE)
    assert not decision.allowed and "Could not check your roles" in decision.reason


async def test_only_approvers_approve(slack: LocalSlackServer) -> None:
    rbac_check = authorizer(slack)
    assert (await rbac_check.may_approve("U0MGR")).allowed
    refused = await rbac_check.may_approve("U0ALICE")
    assert not refused.allowed and "<@U0MGR>" in refused.reason
    assert rbac_check.needs_approval(Permission.STOP) and not rbac_check.needs_approval(Permission.SCALE)
