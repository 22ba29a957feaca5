"""Checking what clients send before a model sees it.

Text must be non-empty, decodable and of bounded size (DOC_001). Images must be real, complete
PNG/JPEG/WebP/GIF/BMP files of bounded size and pixel count (IMG_001): Pillow is told the pixel
limit before it decodes anything, so a decompression bomb is refused from its header.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from inference.errors import BadImage, BadRequest, BadText

MAX_TEXT_CHARS = 20_000
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_PIXELS = 16_000_000  # 4000 x 4000
MIN_IMAGE_SIDE = 8
MAX_INSTANCES = 64
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP"}


@dataclass(frozen=True)
class Instance:
    text: str | None = None
    image: Image.Image | None = None


def parse_instances(body: Any, *, wants_text: bool, wants_image: bool) -> list[Instance]:
    """The ``instances`` of a KServe V1 request, each checked for what the model needs."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise BadRequest('expected a JSON object {"instances": [...]}')
    instances = body["instances"]
    if not instances:
        raise BadRequest("instances is empty")
    if len(instances) > MAX_INSTANCES:
        raise BadRequest(f"at most {MAX_INSTANCES} instances per request")
    return [_instance(raw, index, wants_text=wants_text, wants_image=wants_image)
            for index, raw in enumerate(instances)]


def _instance(raw: Any, index: int, *, wants_text: bool, wants_image: bool) -> Instance:
    if isinstance(raw, str) and wants_text and not wants_image:
        raw = {"text": raw}
    if not isinstance(raw, dict):
        raise BadRequest(f"instances[{index}] must be an object with 'text' and/or 'image_b64'")
    unknown = set(raw) - {"text", "image_b64"}
    if unknown:
        raise BadRequest(f"instances[{index}] has unknown keys: {', '.join(sorted(map(str, unknown)))[:200]}")
    if wants_text and "text" not in raw:
        raise BadRequest(f"instances[{index}] needs 'text'")
    if wants_image and "image_b64" not in raw:
        raise BadRequest(f"instances[{index}] needs 'image_b64'")
    text = check_text(raw["text"], where=f"instances[{index}].text") if wants_text else None
    image = decode_image(raw["image_b64"], where=f"instances[{index}].image_b64") if wants_image else None
    return Instance(text=text, image=image)


def check_text(value: Any, *, where: str = "text") -> str:
    if not isinstance(value, str):
        raise BadText(f"{where} must be a string")
    if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise BadText(f"{where} is not valid text")
    stripped = value.strip()
    if not stripped:
        raise BadText(f"{where} is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise BadText(f"{where} is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    return stripped


def decode_image(value: Any, *, where: str = "image_b64") -> Image.Image:
    if not isinstance(value, str) or not value:
        raise BadImage(f"{where} must be a non-empty base64 string")
    if len(value) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise BadImage(f"{where} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadImage(f"{where} is not valid base64") from exc
    return open_image(data, where=where)


def open_image(data: bytes, *, where: str = "image") -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns below its bomb limit and raises above it; both are refusals here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            _check_header(probe, where)
            probe.verify()  # checks the file's structure without decoding pixels
            image = Image.open(io.BytesIO(data))
            image.load()  # a truncated file fails here
            return image.convert("RGB")
    except BadImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"{where} is not an image we can read ({exc.__class__.__name__})") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise BadImage(f"{where} is corrupt or truncated") from exc


def _check_header(image: Image.Image, where: str) -> None:
    if image.format not in ALLOWED_FORMATS:
        raise BadImage(f"{where}: {image.format or 'unknown'} images are not supported")
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise BadImage(f"{where} is {width}x{height} pixels; the limit is {MAX_IMAGE_PIXELS:,}")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise BadImage(f"{where} is {width}x{height}; too small to read")
