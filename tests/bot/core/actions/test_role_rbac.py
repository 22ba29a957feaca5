"""Who may give incident roles: `rbac.actions.assign_role`, its default, and the first-commander rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import IncidentBotConfig
from bot.core.actions.rbac import Authorizer
from bot.slack.gateway import SlackSdkGateway, build_web_client
from sandbox.models import UserGroup
from sandbox.slack_api import LocalSlackServer

ROLES = {
    "responder": {"usergroups": ["S0MLONCALL"]},
    "commander": {"users": ["U0CMDR"]},
}


@pytest.fixture
def slack() -> Iterator[LocalSlackServer]:
    with LocalSlackServer() as server:
        server.add_usergroup(UserGroup(id="S0MLONCALL", handle="ml-oncall", name="ML on-call", users=["U0RESP"]))
        yield server


def authorizer(slack: LocalSlackServer, **actions: Any) -> Authorizer:
    config = IncidentBotConfig.from_mapping({"rbac": {"roles": ROLES, "actions": actions}})
    gateway = SlackSdkGateway(build_web_client(token="xoxb-test", base_url=slack.base_url), post_interval=0)
    return Authorizer(rbac=config.rbac, directory=gateway)


async def test_left_out_it_is_the_commanders_and_the_incidents_commander(slack: LocalSlackServer) -> None:
    rbac = authorizer(slack)
    assert (await rbac.may_assign_role("U0CMDR", "commander", commander=None)).allowed
    assert (await rbac.may_assign_role("U0LEAD", "scribe", commander="U0LEAD")).allowed
    assert (await rbac.may_assign_role("U0LEAD", "commander", commander="U0LEAD")).allowed  # handing over
    refused = await rbac.may_assign_role("U0RESP", "scribe", commander="U0LEAD")
    assert not refused.allowed and "give incident roles" in refused.reason and "<@U0CMDR>" in refused.reason


async def test_an_empty_entry_lets_nobody(slack: LocalSlackServer) -> None:
    refused = await authorizer(slack, assign_role=[]).may_assign_role("U0CMDR", "scribe", commander=None)
    assert not refused.allowed and "rbac.actions" in refused.reason


async def test_a_role_that_may_assign_cannot_crown_itself_while_nobody_leads(slack: LocalSlackServer) -> None:
    rbac = authorizer(slack, assign_role=["responder"])
    assert (await rbac.may_assign_role("U0RESP", "comms", commander=None)).allowed
    refused = await rbac.may_assign_role("U0RESP", "commander", commander=None)
    assert not refused.allowed and "no commander" in refused.reason
    assert "<@U0CMDR>" in refused.reason and "the incident's commander" not in refused.reason
    # The operator let responders hand roles around, so with a commander in place they may.
    assert (await rbac.may_assign_role("U0RESP", "commander", commander="U0LEAD")).allowed


async def test_an_unreadable_group_refuses(slack: LocalSlackServer) -> None:
    slack.faults.add("usergroups.users.list", status=200, error="fatal_error")
    refused = await authorizer(slack, assign_role=["responder"]).may_assign_role("U0RESP", "scribe", commander=None)
    assert not refused.allowed and "Could not check your roles" in refused.reason
