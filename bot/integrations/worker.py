"""The small async client the bot uses to reach the worker. It imports no torch.

Errors come in two kinds the bot can act on: the worker is unavailable (down, overloaded,
timing out: try later, say so in Slack), or it refused the request (bad input, unknown model:
the message says why). A refusal with 409 is a ``WorkerConflict``: the served version was not
the one the caller expected, because someone else changed it.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from bot.core.ports.worker import (
    ModelStatus,
    WorkerConflict,
    WorkerError,
    WorkerPrediction,
    WorkerRejected,
    WorkerUnavailable,
)
from observability import correlation

# How long a golden-set evaluation may take before the client gives up (its callers stop sooner).
EVALUATE_TIMEOUT_SECONDS = 120.0

_PREDICTION_FIELDS = frozenset({"label", "confidence", "scores", "model_version", "embedding"})


class HttpWorkerClient:
    """``WorkerClient`` over httpx: the worker's KServe V1 routes and its own registry routes."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, http: httpx.AsyncClient | None = None) -> None:
        self._timeout = timeout
        self._http = http or httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> HttpWorkerClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        # The worker logs its side of the call under the same id as the bot's work that asked.
        current = correlation.current()
        if current is not None:
            kwargs["headers"] = {**kwargs.get("headers", {}), correlation.REQUEST_ID_HEADER: current}
        try:
            response = await self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise WorkerUnavailable(f"the model worker is unreachable: {exc.__class__.__name__}",
                                    delivered=False) from exc
        except httpx.TimeoutException as exc:
            raise WorkerUnavailable(f"the model worker did not answer in time ({path})") from exc
        except httpx.HTTPError as exc:
            raise WorkerUnavailable(f"the model worker is unreachable: {exc.__class__.__name__}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise WorkerUnavailable(f"the model worker answered {status}: {_error_text(response)}",
                                    retry_after=_retry_after(response), status=status)
        if status >= 400:
            body = _json_or_none(response)
            code = body.get("code") if isinstance(body, dict) else None
            rejected = WorkerConflict if status == 409 else WorkerRejected
            raise rejected(_error_text(response), status=status, code=code)
        try:
            return response.json()
        except ValueError as exc:
            raise WorkerUnavailable("the model worker sent an unreadable answer") from exc

    async def models(self) -> list[ModelStatus]:
        body = await self._request("GET", "/v1/models")
        return [ModelStatus(m["name"], m.get("version"), bool(m.get("ready"))) for m in body.get("models", [])]

    async def model(self, name: str) -> dict[str, Any]:
        return await self._request("GET", f"/v1/models/{name}")

    async def ready(self) -> bool:
        try:
            await self._request("GET", "/readyz")
        except WorkerError:
            return False
        return True

    async def predict(self, name: str, instances: list[dict[str, Any]], *,
                      probe: bool = True) -> list[WorkerPrediction]:
        """Predictions; as ``probe`` (the default: this client is the bot's) they stay out of the
        worker's prediction log, which is meant for production traffic."""
        headers = {"x-incident-bot-probe": "1"} if probe else {}
        body = await self._request("POST", f"/v1/models/{name}:predict", json={"instances": instances},
                                   headers=headers)
        version = body.get("model_version", "")
        return [WorkerPrediction(p["label"], float(p["confidence"]), dict(p.get("scores", {})),
                                 p.get("model_version", version),
                                 {k: v for k, v in p.items() if k not in _PREDICTION_FIELDS})
                for p in body["predictions"]]

    async def classify_text(self, text: str, *, model: str = "incident-text") -> WorkerPrediction:
        return (await self.predict(model, [{"text": text}]))[0]

    async def classify_chart(self, png: bytes, *, model: str = "chart-vit") -> WorkerPrediction:
        return (await self.predict(model, [{"image_b64": base64.b64encode(png).decode()}]))[0]

    async def classify_fusion(self, text: str, png: bytes, *, model: str = "fusion") -> WorkerPrediction:
        """Text and chart together; ``details["mechanism"]`` holds the likely mechanism and first action."""
        return (await self.predict(model, [{"text": text, "image_b64": base64.b64encode(png).decode()}]))[0]

    async def embed(self, texts: list[str], *, model: str = "incident-text") -> tuple[str, list[list[float]]]:
        """(model version, one unit-length sentence embedding per text); 1 to 256 texts a call."""
        body = await self._request("POST", f"/v1/models/{model}:embed", json={"texts": texts})
        return str(body["model_version"]), [[float(x) for x in row] for row in body["embeddings"]]

    async def load_version(self, name: str, version: str, *, expect: str | None = None,
                           actor: str | None = None) -> str:
        """Load and promote ``version``; with ``expect``, only if that version is serving now."""
        guard = _guard(expect, actor)
        body = await self._request("POST", f"/v1/models/{name}/versions/{version}:load", json=guard or None)
        return str(body["version"])

    async def rollback(self, name: str, steps: int = 1, *, expect: str | None = None,
                       actor: str | None = None) -> str:
        """Go back ``steps`` deploys; with ``expect``, only if that version is serving now."""
        body = await self._request("POST", f"/v1/models/{name}:rollback",
                                   json={"steps": steps, **_guard(expect, actor)})
        return str(body["version"])

    async def recent_predictions(self, name: str, limit: int = 500) -> list[dict[str, Any]]:
        body = await self._request("GET", f"/v1/models/{name}/predictions", params={"limit": limit})
        return list(body.get("predictions", []))

    async def evaluate(self, name: str, version: str, *, golden_from: str | None = None) -> dict[str, Any]:
        """Golden-set accuracy, macro-F1 and per-class F1 of ``version``; on ``golden_from``'s golden
        set when given, so two versions are compared on the same examples."""
        body = {"golden_from": golden_from} if golden_from is not None else None
        # Scoring a version not scored before runs every golden example through it: seconds to
        # minutes on a CPU, longer than any other call. Each caller bounds its wait with a limit of
        # its own (Diagnose's golden step, the model gate), and the worker finishes and keeps the
        # score for the next caller when one stops waiting, so this call gets more time than the
        # rest: with the client's own, the golden step was cut off before its limit.
        timeout = httpx.Timeout(max(self._timeout, EVALUATE_TIMEOUT_SECONDS), connect=self._timeout)
        return await self._request("POST", f"/v1/models/{name}/versions/{version}:evaluate", json=body,
                                   timeout=timeout)

    async def drift(self, name: str, limit: int = 500) -> dict[str, Any]:
        """The served version's drift: ``drift_score`` and ``verdict`` (ok, warning, critical,
        insufficient_data) over its last ``limit`` predictions."""
        return await self._request("GET", f"/v1/models/{name}/drift", params={"limit": limit})


def _guard(expect: str | None, actor: str | None) -> dict[str, str]:
    return {key: value for key, value in (("expect", expect), ("actor", actor)) if value is not None}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    body = _json_or_none(response)
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']} ({body.get('code', response.status_code)})"
    return response.text[:200] or str(response.status_code)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
