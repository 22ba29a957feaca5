"""`/incident diagnose`: run the runbook's checks and show the evidence (the headline's Diagnose)."""

from __future__ import annotations

from bot.core.checklists import StepRef
from handlers.services import Services
from handlers.slack.commands.base import Invocation, Subcommand, channel_incident
from handlers.slack.context import Reply, answer_within_budget
from storage.models import Incident


def start_diagnostics(services: Services, incident: Incident, *, actor: str, only: tuple[str, ...] = (),
                      runbook_step: StepRef | None = None, thread_ts: str | None = None) -> Reply:
    if services.diagnoser.start(incident, actor=actor, only=only, runbook_step=runbook_step, thread_ts=thread_ts):
        if thread_ts is not None:
            return Reply(text=f"🔬 Diagnosing incident #{incident.number}: the results fill in in the "
                              "checklist's thread.")
        return Reply(text=f"🔬 Diagnosing incident #{incident.number}: the results fill in below as each check ends.")
    return Reply(text=f"🔬 Diagnostics for incident #{incident.number} are already running; see the channel.")


async def run(invocation: Invocation) -> None:
    async def work() -> Reply:
        incident = await channel_incident(invocation)
        return start_diagnostics(invocation.services, incident, actor=invocation.request.user_id)

    await answer_within_budget(invocation.ack, invocation.services, invocation.request, work())


SUBCOMMAND = Subcommand(name="diagnose", usage="diagnose",
                        summary="Run the checks: worker, golden set, drift, latency, chart, triage.", run=run)
