"""Reading payloads that senders shape as they like: a part that should be an object, or nothing."""

from __future__ import annotations

from typing import Any


def object_or_empty(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one, so field reads never raise."""
    return value if isinstance(value, dict) else {}
