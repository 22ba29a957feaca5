""""Preserve evidence": copy what the bot can reach about an incident to S3, hashed, before anyone
changes anything (seeds 002 and 003: "preserve logs").

One snapshot is a folder ``<prefix>incident-<n>/<snapshot>/`` with one JSON object per source
(the incident and its timeline, its audit rows, the service's logs over the incident's window,
its ECS service and task definition, its Parameter Store values without SecureStrings) and a
``manifest.json`` naming each object's key, size and SHA-256. The manifest's entries and its own
digest go on the timeline, so whoever later reads the bucket can check nothing was changed. A
source that cannot be read is listed in the manifest as skipped, with why: a snapshot with a gap
beats none. Guarded: the `evidence` permission, and an audit row whether allowed or refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.core import incidents
from bot.core.actions.errors import ActionDenied, ActionInputError, ActionUnavailable
from bot.core.actions.kinds import Permission
from bot.core.actions.rbac import Authorizer
from bot.core.audit import Outcome, record_entry, record_refusal
from bot.core.ports.errors import ProviderError
from bot.core.ports.evidence import EvidenceStore, StateSnapshots
from bot.core.ports.logs import LogSource
from bot.core.timeline import EventKind, record_event
from bot.core.unit_of_work import Core
from storage.models import AuditEntry, Incident, TimelineEvent

AUDIT_ACTION = "evidence.preserve"
JSON = "application/json"
# The logs copied start this long before the incident was declared: what led up to it.
LOGS_LEAD_IN = timedelta(hours=1)


@dataclass(frozen=True)
class EvidenceObject:
    source: str
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    bucket: str
    snapshot: str
    objects: tuple[EvidenceObject, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # source -> why it was not copied
    manifest_key: str = ""
    manifest_sha256: str = ""
    service: str = ""  # whose logs and state were copied

    def as_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "snapshot": self.snapshot,
                "objects": [{"source": o.source, "key": o.key, "size": o.size, "sha256": o.sha256}
                            for o in self.objects],
                "skipped": dict(self.skipped), "service": self.service}


def canonical_json(value: Any) -> bytes:
    """The bytes that are hashed and stored: sorted keys, so the same facts give the same digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class EvidenceCollector:
    def __init__(self, *, core: Core, config: IncidentBotConfig, authorizer: Authorizer, store: EvidenceStore | None,
                 snapshots: StateSnapshots | None = None, logs: LogSource | None = None) -> None:
        self._core = core
        self._config = config
        self._authorizer = authorizer
        self._store = store
        self._snapshots = snapshots
        self._logs = logs

    async def preserve(self, *, actor: str, incident_id: int, service: str = "") -> Manifest:
        """``service``: whose logs and state to copy, when not the incident's own (a security
        incident declared in Slack often names none)."""
        incident = await self._core.read(lambda s: incidents.get_incident(s, incident_id=incident_id))
        decision = await self._authorizer.may(actor, Permission.EVIDENCE, commander=incident.commander)
        if not decision.allowed:
            await record_refusal(self._core.sessions, actor=actor, action=AUDIT_ACTION, now=self._core.clock(),
                                 incident_id=incident_id, reason=decision.reason)
            raise ActionDenied(f"🔒 {decision.reason}")
        settings = self._config.security.evidence
        if settings is None or self._store is None:
            raise ActionUnavailable("No evidence bucket is set up (`security.evidence.bucket` in the config). "
                                    "Nothing was copied.")
        # An alert's incident may name a service the config does not know (its alarm's name): then
        # only the incident's own record is copied. A service asked for by name must exist.
        service_name = self._service_name(service) if service else \
            (self._config.service_name(incident.service or "") or "")
        now = self._core.clock()
        snapshot = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        folder = f"{settings.prefix}incident-{incident.number}/{snapshot}/"
        sources, skipped = await self._collect(incident, service_name, now=now, max_rows=settings.max_rows,
                                               max_log_events=settings.max_log_events)
        stored: list[EvidenceObject] = []
        for source, content in sources.items():
            body = canonical_json(content)
            digest = sha256_hex(body)
            key = f"{folder}{source}.json"
            try:
                written = await self._store.put(bucket=settings.bucket, key=key, body=body, sha256=digest,
                                                content_type=JSON)
            except ProviderError as exc:
                raise ActionUnavailable(f"Could not write {key} to s3://{settings.bucket}: {exc.message}") from exc
            stored.append(EvidenceObject(source=source, key=written.key, size=written.size, sha256=written.sha256))
        manifest = Manifest(bucket=settings.bucket, snapshot=snapshot, objects=tuple(stored), skipped=skipped,
                            service=service_name)
        body = canonical_json({**manifest.as_dict(), "incident": incident.number, "taken_at": now.isoformat(),
                               "taken_by": actor})
        manifest_key = f"{folder}manifest.json"
        try:
            await self._store.put(bucket=settings.bucket, key=manifest_key, body=body, sha256=sha256_hex(body),
                                  content_type=JSON)
        except ProviderError as exc:
            raise ActionUnavailable(f"Could not write {manifest_key} to s3://{settings.bucket}: {exc.message}") \
                from exc
        manifest = Manifest(bucket=manifest.bucket, snapshot=snapshot, objects=manifest.objects, skipped=skipped,
                            manifest_key=manifest_key, manifest_sha256=sha256_hex(body), service=service_name)
        await self._record(manifest, actor=actor, incident_id=incident_id)
        return manifest

    async def _record(self, manifest: Manifest, *, actor: str, incident_id: int) -> None:
        now = self._core.clock()
        data = {**manifest.as_dict(), "manifest_key": manifest.manifest_key,
                "manifest_sha256": manifest.manifest_sha256}
        async with self._core.sessions() as session, session.begin():
            await record_event(session, incident_id=incident_id, kind=EventKind.EVIDENCE_PRESERVED, actor=actor,
                               now=now, text=manifest_text(manifest), data=data)
            record_entry(session, actor=actor, action=AUDIT_ACTION, outcome=Outcome.OK, now=now,
                         incident_id=incident_id, detail=data)
        self._core.outbox_ready()

    def _service_name(self, requested: str) -> str:
        if not requested:
            return ""
        resolved = self._config.service_name(requested)
        if resolved is None:
            names = ", ".join(f"`{name}`" for name in self._config.services) or "none configured"
            raise ActionInputError(f"`{requested[:60]}` isn't a configured service. Services: {names}.")
        return resolved

    async def _collect(self, incident: Incident, service_name: str, *, now: datetime, max_rows: int,
                       max_log_events: int) -> tuple[dict[str, Any], dict[str, str]]:
        sources: dict[str, Any] = {}
        skipped: dict[str, str] = {}
        sources["incident"] = await self._core.read(
            lambda s: _incident_record(s, incident=incident, max_rows=max_rows))
        sources["audit"] = await self._core.read(lambda s: _audit_rows(s, incident_id=incident.id, limit=max_rows))
        service = self._config.services.get(service_name)
        if service is None:
            why = "no service named: `/incident evidence <service>` copies a service's logs and state"
            skipped.update({"logs": why, "ecs": why, "parameters": why})
            return sources, skipped
        readers: dict[str, Any] = {}
        if service.logs is not None and self._logs is not None:
            group, logs = service.logs.group, self._logs
            end = incident.resolved_at or now

            async def read_logs() -> Any:
                found = await logs.events(group=group, start=incident.declared_at - LOGS_LEAD_IN, end=end,
                                          limit=max_log_events)
                return {"group": group, "truncated": found.truncated,
                        "events": [{"at": e.at.isoformat(), "stream": e.stream, "message": e.message}
                                   for e in found.events]}

            readers["logs"] = read_logs
        else:
            skipped["logs"] = "no `logs.group` for the service"
        if service.ecs is not None and self._snapshots is not None:
            ecs, snapshots = service.ecs, self._snapshots
            readers["ecs"] = lambda: snapshots.ecs_service(cluster=ecs.cluster, service=ecs.service)
        else:
            skipped["ecs"] = "no ECS service configured"
        if service.flags is not None and self._snapshots is not None:
            prefix, snapshots = service.flags.prefix, self._snapshots

            async def read_parameters() -> Any:
                return [vars(p) for p in await snapshots.parameters(prefix)]

            readers["parameters"] = read_parameters
        else:
            skipped["parameters"] = "no Parameter Store prefix configured"
        for source, read in readers.items():
            try:
                sources[source] = await read()
            except ProviderError as exc:
                skipped[source] = exc.message
        return sources, skipped


def manifest_text(manifest: Manifest) -> str:
    lines = [f"preserved evidence to s3://{manifest.bucket}/{manifest.manifest_key} "
             f"(manifest SHA-256 `{manifest.manifest_sha256}`):"]
    lines += [f"• `{o.key}` {o.size} bytes, SHA-256 `{o.sha256}`" for o in manifest.objects]
    lines += [f"• {source}: not copied ({why})" for source, why in manifest.skipped.items()]
    return "\n".join(lines)


async def _incident_record(session: AsyncSession, *, incident: Incident, max_rows: int) -> dict[str, Any]:
    events = list(await session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()).limit(max_rows)))
    columns = {prop.key: getattr(incident, prop.key) for prop in Incident.__mapper__.column_attrs}
    return {"incident": columns,
            "timeline": [{"at": e.occurred_at, "kind": e.kind, "actor": e.actor, "text": e.text, "data": e.data}
                         for e in reversed(events)]}


async def _audit_rows(session: AsyncSession, *, incident_id: int, limit: int) -> list[dict[str, Any]]:
    rows = list(await session.scalars(
        select(AuditEntry).where(AuditEntry.incident_id == incident_id)
        .order_by(AuditEntry.id.desc()).limit(limit)))
    return [{"id": r.id, "at": r.occurred_at, "actor": r.actor, "action": r.action, "outcome": r.outcome,
             "detail": r.detail} for r in reversed(rows)]
