"""Reading what people paste: the "Run diagnostic inference" message shortcut.

The message's text goes to the text classifier; each attached image (fetched with the bot token,
within a size limit) to the chart reader; text and a chart together also to fusion. The answer
is a reply in the message's thread, one line per model, with labels and confidences.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.core.ports.worker import WorkerClient, WorkerError, WorkerPrediction
from bot.slack.errors import SlackError
from bot.slack.gateway import SlackGateway
from runbooks.diagnostics.model_names import ModelNames

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # the worker refuses bigger images anyway
MAX_IMAGES = 3
IMAGE_TYPES = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp"})

# One plain sentence per chart pattern, for the reply's reading.
PATTERN_READINGS = {
    "normal": "nothing unusual",
    "spike": "a short spike",
    "step_up": "a step up: something changed at one moment (a deploy, a config change)",
    "step_down": "a step down: something stopped or was cut off at one moment",
    "trend_up": "a steady climb: load or a leak growing",
    "trend_down": "a steady decline",
    "flatline": "a flat line: the source may have stopped reporting",
    "oscillation": "an oscillation: something flapping",
}




def image_files(files: Any) -> list[Mapping[str, Any]]:
    """The attached images worth reading, as Slack describes them (mimetype or file type)."""
    images = []
    for file in files if isinstance(files, list) else []:
        if not isinstance(file, Mapping):
            continue
        kind = str(file.get("filetype") or "").lower()
        mimetype = str(file.get("mimetype") or "")
        if (mimetype.startswith("image/") or kind in IMAGE_TYPES) and file.get("url_private"):
            images.append(file)
    return images[:MAX_IMAGES]


def _line(model: str, prediction: WorkerPrediction) -> str:
    return f"*{model}* ({prediction.model_version}): *{prediction.label}* {prediction.confidence:.0%}"


async def read_message(*, worker: WorkerClient, gateway: SlackGateway, models: ModelNames, text: str,
                       files: Any) -> list[str]:
    """The reply's lines. Failures become lines too: they say what could not be read and why."""
    lines: list[str] = []
    text = text.strip()
    if text:
        try:
            lines.append(_line(models.text, await worker.classify_text(text[:4000], model=models.text)))
        except WorkerError as exc:
            lines.append(f"*{models.text}* could not read the text: {exc}")
    for file in image_files(files):
        name = str(file.get("name") or file.get("title") or "image")
        size = file.get("size")
        if isinstance(size, int) and size > MAX_IMAGE_BYTES:
            lines.append(f"`{name}` is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB; not read.")
            continue
        try:
            image = await gateway.download_file(str(file["url_private"]), max_bytes=MAX_IMAGE_BYTES)
        except SlackError as exc:
            lines.append(f"`{name}` could not be fetched from Slack: {exc}")
            continue
        lines += await _read_image(worker, models, name, image, text)
    if not lines:
        lines.append("There is no text or image in this message to read.")
    return lines


async def _read_image(worker: WorkerClient, models: ModelNames, name: str, image: bytes, text: str) -> list[str]:
    try:
        chart = await worker.classify_chart(image, model=models.chart)
    except WorkerError as exc:
        return [f"`{name}`: *{models.chart}* could not read it: {exc}"]
    reading = PATTERN_READINGS.get(chart.label, chart.label.replace("_", " "))
    lines = [f"`{name}`: " + _line(models.chart, chart) + f": {reading}"]
    if text:
        try:
            fused = await worker.classify_fusion(text[:4000], image, model=models.fusion)
        except WorkerError as exc:
            return [*lines, f"*{models.fusion}* could not combine them: {exc}"]
        mechanism = fused.details.get("mechanism") or {}
        first = mechanism.get("first_action")
        lines.append(_line(models.fusion, fused) + f", mechanism *{mechanism.get('label', 'unclear')}* "
                     f"{float(mechanism.get('confidence', 0)):.0%}" + (f": first action, {first}" if first else ""))
    return lines


async def reply_in_thread(*, worker: WorkerClient, gateway: SlackGateway, models: ModelNames, channel: str,
                          message: Mapping[str, Any]) -> None:
    lines = await read_message(worker=worker, gateway=gateway, models=models, text=str(message.get("text") or ""),
                               files=message.get("files"))
    body = "🔬 *Diagnostic inference*\n" + "\n".join(f"• {line}" for line in lines)
    try:
        await gateway.post(channel, text=body, thread_ts=str(message.get("ts") or "") or None,
                           blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}}])
    except SlackError as exc:
        log.warning("could not reply with the diagnostic reading: %s", exc)
