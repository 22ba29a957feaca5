"""A role given on a permission checked against one commander is not applied under another."""

from __future__ import annotations

import pytest

from bot.config.severity import Severity
from bot.core import incidents
from bot.core.errors import ConcurrentChange
from bot.core.roles import Role
from bot.core.unit_of_work import Core


@pytest.fixture
def core(sessions) -> Core:
    return Core(sessions=sessions)


async def give(core: Core, incident_id: int, *, actor: str, role: Role, user_id: str,
               commander_was: str | None) -> None:
    await core.change(actor=actor, action="incident.role", incident_id=incident_id,
                      apply=lambda s, now: incidents.assign_role(s, incident_id=incident_id, role=role, user_id=user_id,
                                                                 actor=actor, now=now, commander_was=commander_was))


async def test_a_role_change_checked_under_a_commander_who_has_since_changed_does_nothing(core: Core) -> None:
    incident = await core.change(
        actor="U0CAROL", action="incident.declare", incident_id=None,
        apply=lambda s, now: incidents.declare(s, title="Latency", severity=Severity.P1, declared_by="U0CAROL",
                                               now=now),
    )
    await give(core, incident.id, actor="U0CMDR", role=Role.COMMANDER, user_id="U0ALICE", commander_was=None)
    # Bob was allowed while he led; Alice took command before his change landed.
    with pytest.raises(ConcurrentChange, match="commander of incident #1 changed"):
        await give(core, incident.id, actor="U0BOB", role=Role.SCRIBE, user_id="U0BOB", commander_was="U0BOB")
    roles = await core.read(lambda s: incidents.current_roles(s, incident_id=incident.id))
    assert roles == {Role.COMMANDER: "U0ALICE"}
    await give(core, incident.id, actor="U0ALICE", role=Role.SCRIBE, user_id="U0BOB", commander_was="U0ALICE")
    roles = await core.read(lambda s: incidents.current_roles(s, incident_id=incident.id))
    assert roles == {Role.COMMANDER: "U0ALICE", Role.SCRIBE: "U0BOB"}
