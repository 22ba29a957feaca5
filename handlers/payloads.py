"""Reading payloads that senders shape as they like: a part that should be an object, or nothing,
and JSON nested deeper than any real payload, refused before a parser recurses into it."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

# Slack's deepest real payloads (rich text inside a view's state) nest about 15 levels; PagerDuty,
# SNS and EventBridge under 10. Python's json parser recurses once a level and gives up near
# 1,000 with a RecursionError, which is no way to answer a sender.
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class TooDeeplyNested(ValueError):
    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested more than {limit} levels deep")


def object_or_empty(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one, so field reads never raise."""
    return value if isinstance(value, dict) else {}


def json_depth(text: str) -> int:
    """How deep the arrays and objects in ``text`` nest, counted without parsing it.

    Brackets inside strings are not structure, so strings are dropped first; the rest is a
    running sum over the brackets alone, all in C-speed regex and itertools.
    """
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    if json_depth(text) > limit:
        raise TooDeeplyNested(limit)


def loads_bounded(text: str, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for text from outside: refuses nesting past ``limit`` before parsing."""
    # Counting opening brackets is far cheaper than measuring the depth, and text with no more of
    # them than the limit cannot nest deeper (the webhooks' usual case).
    if text.count("{") + text.count("[") > limit:
        check_json_depth(text, limit)
    return json.loads(text)
