"""The two security actions: rotate a Secrets Manager secret, deactivate an IAM access key.

Planning checks the bounds from ``security:`` in the config (only allow-listed secrets and
users' keys; never the bot's own key) and reads the target now; running re-reads it (stale if
it moved), makes the change, and verifies it by reading back: the new version holds
AWSCURRENT, the key lists as Inactive. Both are always two-person (`rbac.py`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import IncidentBotConfig
from bot.core.actions.errors import ActionInputError, ActionUnavailable
from bot.core.actions.kinds import ActionState
from bot.core.actions.planned import Planned, Progress, StaleTarget
from bot.core.actions.providers import ActionProviders
from bot.core.actions.requests import ActionRequest
from bot.core.ports.security import AccessKeys, SecretStore

# IAM's access key ids: AKIA (long-term) or ASIA (temporary) and 16 more upper-case letters or digits.
ACCESS_KEY_ID = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")
# Secrets Manager names: letters, digits and /_+=.@- (up to 512), or a full ARN.
SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,2048}")
IAM_USER = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")

# (done, observed, what to show while waiting), as the executor's poll reads it.
Reading = tuple[bool, dict[str, Any], str]
Poll = Callable[[Callable[[], Awaitable[Reading]]], Awaitable[tuple[bool, dict[str, Any]]]]
def secret_target(arn: str) -> str:
    return f"secret:{arn}"


def key_target(key_id: str) -> str:
    return f"iam-key:{key_id}"


def _short(text: str, limit: int = 80) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _secrets(providers: ActionProviders) -> SecretStore:
    if providers.secrets is None:
        raise ActionUnavailable("Secret rotation is not set up on this bot (no AWS access). Nothing was changed.")
    return providers.secrets


def _keys(providers: ActionProviders) -> AccessKeys:
    if providers.access_keys is None:
        raise ActionUnavailable("Access key actions are not set up on this bot (no AWS access). Nothing was changed.")
    return providers.access_keys


# --- planning ----------------------------------------------------------------------------------


async def plan_rotate_secret(request: ActionRequest, *, config: IncidentBotConfig,
                             providers: ActionProviders) -> Planned:
    secret_id = (request.secret_id or "").strip()
    if not SECRET_ID.fullmatch(secret_id):
        raise ActionInputError("Name the secret by its name or ARN, e.g. `prod/scoring/api-key`.")
    security = config.security
    allowed = ", ".join(f"`{p}`" for p in security.rotatable_secrets) or "none (set `security.rotatable_secrets`)"
    if not security.secret_allowed(secret_id):
        # Checked before AWS is asked, so a secret outside the list is not even described.
        raise ActionInputError(f"`{_short(secret_id)}` is not a secret the bot may rotate. Allowed: {allowed}.")
    state = await _secrets(providers).describe(secret_id)
    if not (security.secret_allowed(state.name) or security.secret_allowed(state.arn)):
        raise ActionInputError(f"`{_short(state.name)}` is not a secret the bot may rotate. Allowed: {allowed}.")
    if state.current_version is None:
        raise ActionInputError(f"`{_short(state.name)}` has no AWSCURRENT version to rotate from.")
    mode = "lambda" if state.rotation_enabled else "random"
    how = ("its rotation Lambda makes the new value" if mode == "lambda"
           else "no rotation Lambda: Secrets Manager makes a new random value; the old one stays as AWSPREVIOUS")
    return Planned(
        target=secret_target(state.arn),
        target_label=state.name,
        before={"version": state.current_version},
        after={"secret_id": state.arn, "name": state.name, "mode": mode},
        change=f"AWSCURRENT {state.current_version[:8]}… → a new version",
        notes=(f"How: {how}.", "Whatever uses this secret must read the new value (restart or cache expiry)."),
    )


async def plan_deactivate_key(request: ActionRequest, *, config: IncidentBotConfig,
                              providers: ActionProviders) -> Planned:
    user, key_id = (request.user or "").strip(), (request.access_key_id or "").strip()
    if not IAM_USER.fullmatch(user) or not ACCESS_KEY_ID.fullmatch(key_id):
        raise ActionInputError("Name the IAM user and the access key id, e.g. `ci-deployer AKIAIOSFODNN7EXAMPLE`.")
    security = config.security
    if not security.key_user_allowed(user):
        allowed = ", ".join(f"`{u}`" for u in security.deactivatable_key_users) or \
            "none (set `security.deactivatable_key_users`)"
        raise ActionInputError(f"`{user}` is not a user whose keys the bot may deactivate. Allowed: {allowed}.")
    keys = _keys(providers)
    await _refuse_own_key(keys, user=user, key_id=key_id)
    found = next((key for key in await keys.keys(user) if key.key_id == key_id), None)
    if found is None:
        raise ActionInputError(f"`{user}` has no access key `{key_id}`.")
    if found.status == "Inactive":
        raise ActionInputError(f"Access key `{key_id}` of `{user}` is already inactive.")
    return Planned(
        target=key_target(key_id),
        target_label=f"{key_id} ({user})",
        before={"status": found.status},
        after={"user": user, "access_key_id": key_id, "status": "Inactive"},
        change=f"{found.status} → Inactive",
        notes=("Deactivated, not deleted: it can be turned back on in IAM if it was the wrong key.",),
    )


async def _refuse_own_key(keys: AccessKeys, *, user: str, key_id: str) -> None:
    own = await keys.own_identity()
    if key_id == own.key_id or (own.user is not None and user == own.user):
        raise ActionInputError("That is the bot's own access key: deactivating it would stop every action. "
                               "Deactivate it in IAM yourself if it leaked.")


# --- running -----------------------------------------------------------------------------------


def rotation_token(arn: str, from_version: str) -> str:
    """One token per (secret, version rotated from): a retried run makes the same version, not a second."""
    return hashlib.sha256(f"{arn}\n{from_version}".encode()).hexdigest()


async def rotate_secret(*, before: dict[str, Any], after: dict[str, Any], providers: ActionProviders,
                        progress: Progress, poll: Poll) -> tuple[ActionState, str, dict[str, Any]]:
    store = _secrets(providers)
    arn, name, was = str(after["secret_id"]), str(after.get("name") or after["secret_id"]), str(before["version"])
    state = await store.describe(arn)
    if state.current_version != was:
        raise StaleTarget({"version": state.current_version})
    await progress(f"Rotating {name}…")
    new_version = await store.rotate(arn, use_lambda=after.get("mode") == "lambda", token=rotation_token(arn, was))

    async def read() -> Reading:
        now = await store.describe(arn)
        return now.current_version == new_version, {"version": now.current_version}, \
            f"AWSCURRENT is {now.current_version}"

    verified, observed = await poll(read)
    if verified:
        return ActionState.SUCCEEDED, f"Verified: version {new_version} of {name} holds AWSCURRENT.", observed
    return ActionState.UNVERIFIED, (f"Rotation of {name} started (version {new_version}), but AWSCURRENT is still "
                                    f"{observed.get('version')}. Check the rotation Lambda's logs."), observed


async def deactivate_key(*, before: dict[str, Any], after: dict[str, Any], providers: ActionProviders,
                         progress: Progress, poll: Poll) -> tuple[ActionState, str, dict[str, Any]]:
    keys = _keys(providers)
    user, key_id = str(after["user"]), str(after["access_key_id"])
    await _refuse_own_key(keys, user=user, key_id=key_id)  # again: the bot's credentials may have changed

    async def status() -> str | None:
        return next((key.status for key in await keys.keys(user) if key.key_id == key_id), None)

    now = await status()
    if now == "Inactive":
        return ActionState.NO_CHANGE, f"Access key {key_id} of {user} was already inactive.", {"status": now}
    if now != before.get("status"):
        raise StaleTarget({"status": now or "deleted"})
    await progress(f"Deactivating access key {key_id} of {user}…")
    await keys.deactivate(user, key_id)

    async def read() -> Reading:
        current = await status()
        return current == "Inactive", {"status": current}, f"the key reads {current}"

    verified, observed = await poll(read)
    if verified:
        return ActionState.SUCCEEDED, f"Verified: access key {key_id} of {user} lists as Inactive.", observed
    return ActionState.UNVERIFIED, f"Access key {key_id} of {user} still reads {observed.get('status')}.", observed
