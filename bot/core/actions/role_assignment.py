"""Giving someone an incident role, guarded like an action: `rbac.actions.assign_role` first,
then the change and its audit entry in one transaction; a refusal is audited and changes nothing.

Every path that sets a role comes through here. The incident's commander holds the `commander`
role for every action in that incident, so a role given unchecked would open them all.
"""

from __future__ import annotations

from bot.core import incidents
from bot.core.actions.errors import ActionDenied
from bot.core.actions.rbac import Authorizer
from bot.core.audit import record_refusal
from bot.core.roles import Role
from bot.core.unit_of_work import Core
from storage.models import Incident

AUDIT_ACTION = "incident.role"


async def assign_role(*, core: Core, authorizer: Authorizer, actor: str, incident_id: int, role: Role,
                      user_id: str, via: str) -> Incident:
    """Make ``user_id`` the incident's ``role`` if ``actor`` may; ``via`` names the path, for the audit."""
    incident = await core.read(lambda session: incidents.get_incident(session, incident_id=incident_id))
    commander = incident.commander
    detail = {"role": role.value, "user_id": user_id, "via": via}
    decision = await authorizer.may_assign_role(actor, role.value, commander=commander)
    if not decision.allowed:
        await record_refusal(core.sessions, actor=actor, action=AUDIT_ACTION, now=core.clock(),
                             incident_id=incident_id, reason=decision.reason, detail=detail)
        raise ActionDenied(f"🔒 {decision.reason}")
    return await core.change(
        actor=actor, action=AUDIT_ACTION, incident_id=incident_id, detail=detail,
        apply=lambda session, now: incidents.assign_role(
            session, incident_id=incident_id, role=role, user_id=user_id, actor=actor, now=now,
            commander_was=commander,
        ),
    )
