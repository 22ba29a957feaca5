"""The worker's incident-text embeddings, as the related-incidents lookup needs them."""

from __future__ import annotations

from bot.core.ports.worker import WorkerClient, WorkerError
from bot.core.postmortem.related import EmbeddingUnavailable

# The worker embeds at most this many texts a call.
EMBED_BATCH = 256


class WorkerEmbedder:
    def __init__(self, worker: WorkerClient) -> None:
        self._worker = worker

    async def embed(self, texts: list[str], *, model: str = "incident-text") -> tuple[str, list[list[float]]]:
        version = ""
        vectors: list[list[float]] = []
        try:
            for start in range(0, len(texts), EMBED_BATCH):
                version, batch = await self._worker.embed(texts[start:start + EMBED_BATCH], model=model)
                vectors.extend(batch)
        except WorkerError as exc:
            raise EmbeddingUnavailable(f"the model worker could not embed the incidents: {exc}") from exc
        return version, vectors
