"""`/incident evidence`: copy the incident's logs, ECS and Parameter Store state and audit rows
to the evidence bucket, hashed, and put the manifest on the timeline (seeds 002, 003)."""

from __future__ import annotations

from bot.core.evidence import Manifest
from handlers.services import Services
from handlers.slack.commands.base import Invocation, Subcommand, UsageError, channel_incident
from handlers.slack.context import Reply, answer_within_budget


def manifest_reply(manifest: Manifest) -> Reply:
    skipped = "".join(f"\n• {source}: not copied ({why})" for source, why in manifest.skipped.items())
    return Reply(text=(f"🗄️ Evidence preserved: {len(manifest.objects)} objects under "
                       f"`s3://{manifest.bucket}/{manifest.manifest_key.rsplit('/', 1)[0]}/`, with their SHA-256 "
                       f"hashes in the manifest on the timeline.{skipped}"))


async def preserve(services: Services, *, actor: str, incident_id: int, service: str = "") -> Reply:
    if services.evidence is None:
        return Reply(text="⚠️ Evidence preservation is not set up on this bot. Nothing was copied.")
    return manifest_reply(await services.evidence.preserve(actor=actor, incident_id=incident_id, service=service))


async def run(invocation: Invocation) -> None:
    parts = invocation.args.split()
    if len(parts) > 1:
        raise UsageError("Name at most one service, e.g. `evidence multimodal-api`.")
    service = parts[0] if parts else ""

    async def work() -> Reply:
        incident = await channel_incident(invocation)
        return await preserve(invocation.services, actor=invocation.request.user_id, incident_id=incident.id,
                              service=service)

    await answer_within_budget(invocation.ack, invocation.services, invocation.request, work())


SUBCOMMAND = Subcommand(name="evidence", usage="evidence [service]",
                        summary="Preserve evidence: logs, ECS and SSM state and audit rows to S3, with SHA-256 hashes.",
                        run=run)
