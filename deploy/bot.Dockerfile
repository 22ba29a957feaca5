# syntax=docker/dockerfile:1
# The bot's image: `incident-bot serve` (Slack events, webhooks, /healthz, /readyz, /metrics) and
# `incident-bot migrate`. No torch: the model worker has its own image (deploy/worker.Dockerfile).
#
# Build from the repository root (the build context; .dockerignore keeps it small):
#   docker build -f deploy/bot.Dockerfile -t incident-bot:0.1.0 .
# Run (deploy/compose.yaml and deploy/kubernetes/ show the full set of services):
#   docker run --rm -p 3000:3000 -e DATABASE_URL=postgresql://... -e MIGRATE_ON_START=false incident-bot:0.1.0
#   docker run --rm -e DATABASE_URL=postgresql://... incident-bot:0.1.0 migrate
#
# The base image is pinned by version tag and digest (the same in both stages, so the venv's
# interpreter links resolve). Bump both together.

FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5 AS builder

WORKDIR /src
COPY . .
# The same script CI runs (deploy/install.sh): a venv at /opt/venv with `pip install .`.
RUN bash deploy/install.sh /opt/venv bot


FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5 AS runtime

LABEL org.opencontainers.image.title="incident-bot" \
      org.opencontainers.image.description="ChatOps incident response for teams that run ML services, in Slack" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A numeric, non-root user. The working directory is its own, so the SQLite default
# (./var/incident-bot.db, one replica only) works with no volume; real deployments set DATABASE_URL.
RUN groupadd --system --gid 10001 incident-bot \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /var/lib/incident-bot \
        --create-home --shell /usr/sbin/nologin incident-bot

# Root-owned and read-only for the app: the process cannot change its own code.
COPY --from=builder /opt/venv /opt/venv

WORKDIR /var/lib/incident-bot
USER 10001:10001

EXPOSE 3000

# Liveness only (/healthz); the orchestrator's readiness check is /readyz (the database answers).
# Slim images have no curl: Python's urllib raises, and so exits non-zero, on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]

ENTRYPOINT ["incident-bot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
