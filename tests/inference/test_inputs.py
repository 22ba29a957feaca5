"""What the worker refuses before a model sees it: DOC_001, IMG_001, REQ_001."""

from __future__ import annotations

import base64
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from inference.errors import BadImage, BadRequest, BadText, InferenceError
from inference.inputs import MAX_TEXT_CHARS, check_text, decode_image, parse_instances


def png(width: int = 64, height: int = 48, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 60, 90)).save(buffer, format=fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_good_inputs_pass() -> None:
    assert check_text("  p95 latency above 1s ") == "p95 latency above 1s"
    assert decode_image(b64(png())).size == (64, 48)
    assert decode_image(b64(png(fmt="JPEG"))).mode == "RGB"


@pytest.mark.parametrize("value", ["", "   \n", 42, None, "a\x00b", "x" * (MAX_TEXT_CHARS + 1), "\ud800"])
def test_bad_text_is_doc_001(value) -> None:
    with pytest.raises(BadText) as info:
        check_text(value)
    assert info.value.code == "DOC_001"


def decompression_bomb() -> bytes:
    """A small PNG that claims 20000x20000 pixels: refused from its header, never decoded."""
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "empty"),
        ("not base64!!", "undecodable"),
        (b64(b"GIF89a" + b"\x00" * 10), "corrupt"),
        (b64(png()[:60]), "truncated"),
        (b64(png(fmt="TIFF")), "unsupported format"),
        (b64(png(4, 4)), "too small"),
        (b64(decompression_bomb()), "decompression bomb"),
        (b64(b"x" * 100), "not an image"),
    ],
)
def test_bad_images_are_img_001(value: str, why: str) -> None:
    with pytest.raises(BadImage) as info:
        decode_image(value)
    assert info.value.code == "IMG_001", why


def test_oversized_image_payload_is_img_001() -> None:
    with pytest.raises(BadImage, match="larger than"):
        decode_image("A" * (12 * 1024 * 1024))


@pytest.mark.parametrize(
    "body",
    [None, [], {"instances": "x"}, {"instances": []}, {"instances": [1]}, {"instances": [{"txt": "a"}]},
     {"instances": [{}] * 65}, {"wrong": []}],
)
def test_bad_request_shapes_are_req_001(body) -> None:
    with pytest.raises(BadRequest) as info:
        parse_instances(body, wants_text=True, wants_image=False)
    assert info.value.code == "REQ_001"


def test_fusion_needs_both_inputs() -> None:
    with pytest.raises(BadRequest, match="image_b64"):
        parse_instances({"instances": [{"text": "a"}]}, wants_text=True, wants_image=True)


@given(st.binary(max_size=300))
def test_arbitrary_image_bytes_only_ever_give_img_001(data: bytes) -> None:
    try:
        decode_image(b64(data))
    except InferenceError as exc:
        assert exc.code == "IMG_001"
