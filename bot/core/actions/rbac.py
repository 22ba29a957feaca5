"""Who may run which action: roles from the config, resolved to people.

A role names Slack users and user groups. Group membership is read from Slack (through the
`Directory` protocol) and kept for a minute, so a burst of clicks costs one lookup. The
incident's own commander also holds the `commander` role for actions in that incident, which
is why giving someone a role is itself checked (`assign_role`). Anything unclear fails closed:
an action no role is listed for is refused, and so is a check that could not read a group's
members.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.config.base import Audience
from bot.config.models import RbacConfig
from bot.core.actions.kinds import Permission

APPROVER_ROLE = "approver"
COMMANDER_ROLE = "commander"
MEMBERSHIP_TTL_SECONDS = 60.0

# Permissions that hold without an `rbac.actions` entry, so a config written before the entry
# existed hands out roles only through those who lead incidents, never through everyone.
_DEFAULT_ROLES: dict[Permission, tuple[str, ...]] = {Permission.ASSIGN_ROLE: (COMMANDER_ROLE,),
                                                     # Whoever leads an incident may keep its evidence.
                                                     Permission.EVIDENCE: (COMMANDER_ROLE,)}
# What a refusal calls the permission, where its config name is not plain words.
_DOING = {Permission.ASSIGN_ROLE: "give incident roles",
          Permission.SECURITY: "rotate secrets or deactivate access keys",
          Permission.PUBLISH_NOTICE: "publish customer notices",
          Permission.EVIDENCE: "preserve evidence"}
# Always two-person, whatever `rbac.approval_required` lists: a wrong secret rotation or key
# deactivation locks a service out, and security incidents are where a hijacked account acts.
# A customer notice is two-person too: what leaves the company cannot be taken back.
_ALWAYS_APPROVED = frozenset({Permission.SECURITY, Permission.PUBLISH_NOTICE})


class Directory(Protocol):
    async def usergroup_members(self, usergroup_id: str) -> list[str]: ...


@dataclass(frozen=True)
class Decision:
    allowed: bool
    roles: tuple[str, ...]  # the roles that allow it
    reason: str = ""  # for a refusal: what the person is missing and who can do it


class Authorizer:
    def __init__(self, *, rbac: RbacConfig, directory: Directory,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rbac = rbac
        self._directory = directory
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def roles_for(self, permission: Permission) -> tuple[str, ...]:
        configured = self._rbac.actions.get(permission.value)
        return tuple(configured) if configured is not None else _DEFAULT_ROLES.get(permission, ())

    def needs_approval(self, permission: Permission) -> bool:
        return permission.value in self._rbac.approval_required or permission in _ALWAYS_APPROVED

    async def may(self, user_id: str, permission: Permission, *, commander: str | None = None) -> Decision:
        roles = self.roles_for(permission)
        if not roles:
            return Decision(False, (), f"No role may {permission.value}: add it under `rbac.actions` in the config.")
        try:
            for role in roles:
                if await self.holds(user_id, role, commander=commander):
                    return Decision(True, (role,))
        except LookupError as exc:
            return Decision(False, roles, f"Could not check your roles ({exc}). Try again in a moment.")
        who = await self.describe_roles(roles)
        doing = _DOING.get(permission, permission.value)
        return Decision(False, roles, f"You need the {_or(roles)} role to {doing}. {who}")

    async def may_assign_role(self, user_id: str, role: str, *, commander: str | None) -> Decision:
        """`assign_role`, plus one rule for an incident nobody leads yet: only someone who holds
        `commander` in `rbac.roles` may put a commander in charge. Otherwise a role that may only
        hand out scribe or comms could make itself commander, and with it every commander action."""
        decision = await self.may(user_id, Permission.ASSIGN_ROLE, commander=commander)
        if not decision.allowed or role != COMMANDER_ROLE or commander:
            return decision
        try:
            if await self.holds(user_id, COMMANDER_ROLE):
                return decision
        except LookupError as exc:
            return Decision(False, (COMMANDER_ROLE,), f"Could not check your roles ({exc}). Try again in a moment.")
        who = await self.describe_roles((COMMANDER_ROLE,), with_incident_commander=False)
        return Decision(False, (COMMANDER_ROLE,), "This incident has no commander yet, and only someone with the "
                                                  f"*{COMMANDER_ROLE}* role can put one in charge. {who}")

    async def may_approve(self, user_id: str) -> Decision:
        if APPROVER_ROLE not in self._rbac.roles:
            return Decision(False, (), "Nobody can approve: define an `approver` role under `rbac.roles`.")
        try:
            if await self.holds(user_id, APPROVER_ROLE):
                return Decision(True, (APPROVER_ROLE,))
        except LookupError as exc:
            return Decision(False, (APPROVER_ROLE,), f"Could not check your roles ({exc}). Try again in a moment.")
        who = await self.describe_roles((APPROVER_ROLE,))
        return Decision(False, (APPROVER_ROLE,), f"Only an approver can approve this. {who}")

    async def holds(self, user_id: str, role: str, *, commander: str | None = None) -> bool:
        if role == COMMANDER_ROLE and commander and user_id == commander:
            return True
        audience = self._rbac.roles.get(role)
        if audience is None or not user_id:
            return False
        if user_id in audience.users:
            return True
        for group in audience.usergroups:
            if user_id in await self._group(group):
                return True
        return False

    async def describe_roles(self, roles: tuple[str, ...], *, with_incident_commander: bool = True) -> str:
        """"Who can: @a, @b, or members of <!subteam^S1>" for a refusal message."""
        audiences = [self._rbac.roles.get(role, Audience()) for role in roles]
        users = sorted({u for a in audiences for u in a.users})
        groups = sorted({g for a in audiences for g in a.usergroups})
        parts = [", ".join(f"<@{u}>" for u in users)] if users else []
        parts += [f"members of <!subteam^{g}>" for g in groups]
        if COMMANDER_ROLE in roles and with_incident_commander:
            parts.append("the incident's commander")
        return f"Who can: {', or '.join(parts)}." if parts else "No one holds it yet."

    async def _group(self, group_id: str) -> frozenset[str]:
        cached = self._members.get(group_id)
        if cached is not None and self._clock() - cached[0] < MEMBERSHIP_TTL_SECONDS:
            return cached[1]
        try:
            members = frozenset(await self._directory.usergroup_members(group_id))
        except Exception as exc:  # any failure to read membership fails closed
            raise LookupError(f"user group {group_id}: {exc}") from exc
        self._members[group_id] = (self._clock(), members)
        return members


def _or(roles: tuple[str, ...]) -> str:
    quoted = [f"*{r}*" for r in roles]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
