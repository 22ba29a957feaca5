"""Block Kit forms as the Slack client handles them: where interactive elements sit, their options,
and the ``state.values`` and ``actions`` a person's input becomes.

The page sends only ids and raw choices (text, option values, dates); this module places them in
the view or message they came from, takes the option objects from the blocks themselves, and
refuses what the Slack client would not send. :func:`input_problem` is what the client says under
a field before it lets a modal be submitted.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.web_bodies import Choice, WebError


@dataclass(frozen=True)
class Placed:
    """An interactive element and the block it sits in, with the ids Slack would report.

    Slack gives blocks and elements without ids random ones; the sandbox uses their positions
    (``b3``, ``a0``), and ui/blocks.js derives the same ids, so both sides name one element alike.
    """

    block: dict[str, Any]
    block_id: str
    action_id: str
    element: dict[str, Any]


def _block_id(block: dict[str, Any], index: int) -> str:
    given = block.get("block_id")
    return given if isinstance(given, str) and given else f"b{index}"


def placed_elements(blocks: Any) -> Iterator[Placed]:
    for index, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "actions":
            elements = block.get("elements")
        elif kind == "section":
            elements = [block.get("accessory")]
        elif kind == "input":
            elements = [block.get("element")]
        else:
            continue
        for position, element in enumerate(elements if isinstance(elements, list) else []):
            if isinstance(element, dict):
                given = element.get("action_id")
                action_id = given if isinstance(given, str) and given else f"a{position}"
                yield Placed(block, _block_id(block, index), action_id, element)


def find_element(blocks: Any, block_id: str | None, action_id: str) -> Placed:
    for placed in placed_elements(blocks):
        if placed.action_id == action_id and block_id in (None, placed.block_id):
            return placed
    where = f" in block {block_id!r}" if block_id else ""
    raise WebError(404, f"no element with action_id {action_id!r}{where} there")


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            found.extend(o for o in group.get("options") or [] if isinstance(o, dict))
    return found


def _option(placed: Placed, value: str) -> dict[str, Any]:
    for option in _options(placed.element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise WebError(422, f"{value!r} is not an option of {placed.action_id}")


def _chosen_options(placed: Placed, values: list[str]) -> list[dict[str, Any]]:
    wanted = set(values)
    for value in wanted:
        _option(placed, value)  # every value must be an option
    return [copy.deepcopy(o) for o in _options(placed.element) if o.get("value") in wanted]


def _checked_date(placed: Placed, value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise WebError(422, f"{placed.action_id}: {value!r} is not a date (YYYY-MM-DD)") from None
    return value


_TEXT_INPUTS = frozenset({"plain_text_input", "number_input", "email_text_input", "url_text_input"})
_ONE_OPTION = frozenset({"static_select", "radio_buttons", "overflow"})
_MANY_OPTIONS = frozenset({"checkboxes", "multi_static_select"})


def _one_value(placed: Placed, raw: Choice) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise WebError(422, f"{placed.block_id}/{placed.action_id}: a {placed.element.get('type')} takes "
                            "one string or null")
    return raw or None


def _many_values(placed: Placed, raw: Choice) -> list[str]:
    if raw is not None and not isinstance(raw, list):
        raise WebError(422, f"{placed.block_id}/{placed.action_id}: {placed.element.get('type')} take a "
                            "list of option values")
    return list(raw or [])


def state_entry(placed: Placed, raw: Choice) -> dict[str, Any] | None:
    """One element's entry in ``state.values``, or None for elements that keep no state."""
    kind = placed.element.get("type")
    if kind in _TEXT_INPUTS:
        return {"type": kind, "value": _one_value(placed, raw)}
    if kind in ("static_select", "radio_buttons"):
        value = _one_value(placed, raw)
        return {"type": kind, "selected_option": _option(placed, value) if value else None}
    if kind in _MANY_OPTIONS:
        return {"type": kind, "selected_options": _chosen_options(placed, _many_values(placed, raw))}
    if kind == "datepicker":
        value = _one_value(placed, raw)
        return {"type": kind, "selected_date": _checked_date(placed, value) if value else None}
    if kind == "timepicker":
        return {"type": kind, "selected_time": _one_value(placed, raw)}
    return None


def _is_empty(entry: dict[str, Any]) -> bool:
    return not any(entry.get(k) for k in ("value", "selected_option", "selected_options", "selected_date",
                                          "selected_time"))


def _number_problem(element: dict[str, Any], text: str) -> str | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return "Enter a number."
    if not number.is_finite():
        return "Enter a number."
    if not element.get("is_decimal_allowed") and number != number.to_integral_value():
        return "Enter a whole number."
    low, high = element.get("min_value"), element.get("max_value")
    try:
        too_low = low is not None and number < Decimal(str(low))
        too_high = high is not None and number > Decimal(str(high))
    except InvalidOperation:
        return None  # the bot's own bounds are not numbers: Slack would have refused the view
    if too_low or too_high:
        return f"Enter a number between {low if low is not None else '…'} and {high if high is not None else '…'}."
    return None


def input_problem(placed: Placed, entry: dict[str, Any]) -> str | None:
    """What the Slack client itself says under a field before it lets a form be submitted."""
    if _is_empty(entry):
        return None if placed.block.get("optional") is True else "Please complete this required field."
    element, value = placed.element, entry.get("value")
    if element.get("type") == "number_input" and isinstance(value, str):
        return _number_problem(element, value)
    if element.get("type") == "plain_text_input" and isinstance(value, str):
        low, high = element.get("min_length"), element.get("max_length")
        if isinstance(low, int) and len(value) < low:
            return f"Enter at least {low} characters."
        if isinstance(high, int) and len(value) > high:
            return f"Enter at most {high} characters."
    return None


def form_state(blocks: Any, given: Mapping[str, Mapping[str, Choice]], *,
               check: bool) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Slack's ``state.values`` for a view from what the page sent, and (``check``) the problems
    the Slack client would show under input blocks, by block id."""
    values: dict[str, dict[str, Any]] = {}
    problems: dict[str, str] = {}
    known: set[tuple[str, str]] = set()
    for placed in placed_elements(blocks):
        known.add((placed.block_id, placed.action_id))
        entry = state_entry(placed, given.get(placed.block_id, {}).get(placed.action_id))
        if entry is None:
            continue
        values.setdefault(placed.block_id, {})[placed.action_id] = entry
        if check and placed.block.get("type") == "input":
            problem = input_problem(placed, entry)
            if problem:
                problems[placed.block_id] = problem
    unknown = [f"{b}/{a}" for b, fields in given.items() for a in fields if (b, a) not in known]
    if unknown:
        raise WebError(422, f"the view has no input {', '.join(unknown[:5])}")
    return values, problems


def action_of(placed: Placed, value: str | None, selected: list[str] | None) -> dict[str, Any]:
    """The ``actions[0]`` Slack sends when a person uses one element."""
    element, kind = placed.element, placed.element.get("type")
    action: dict[str, Any] = {"type": kind, "action_id": placed.action_id, "block_id": placed.block_id,
                              "action_ts": f"{time.time():.6f}"}
    if kind == "button":
        action["text"] = copy.deepcopy(element.get("text"))
        for key in ("value", "style", "url"):
            if key in element:
                action[key] = element[key]
    elif kind in _ONE_OPTION:
        if not value:
            raise WebError(422, f"{placed.action_id}: say which option (value)")
        action["selected_option"] = _option(placed, value)
    elif kind in _MANY_OPTIONS:
        action["selected_options"] = _chosen_options(placed, list(selected or []))
    elif kind == "datepicker":
        action["selected_date"] = _checked_date(placed, value) if value else None
    elif kind == "timepicker":
        action["selected_time"] = value
    elif kind in _TEXT_INPUTS and (placed.block.get("type") != "input" or placed.block.get("dispatch_action")):
        action["value"] = value or ""
    else:
        raise WebError(422, f"{placed.action_id}: a {kind} element here sends no action")
    return action
