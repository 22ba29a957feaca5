import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.errors import InvalidTransition
from bot.core.lifecycle import (
    ALLOWED,
    OPEN_STATUSES,
    Status,
    can_transition,
    ensure_transition,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.TRIGGERED, Status.ACKNOWLEDGED),
        (Status.TRIGGERED, Status.MITIGATED),
        (Status.TRIGGERED, Status.RESOLVED),
        (Status.ACKNOWLEDGED, Status.MITIGATED),
        (Status.ACKNOWLEDGED, Status.RESOLVED),
        (Status.MITIGATED, Status.RESOLVED),
        (Status.RESOLVED, Status.CLOSED),
        (Status.RESOLVED, Status.TRIGGERED),
    ],
)
def test_the_transitions_responders_use_are_allowed(current: Status, target: Status) -> None:
    ensure_transition(current, target, number=7)


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        (Status.RESOLVED, Status.ACKNOWLEDGED, "Incident #7 is resolved, so it can't be acknowledged"),
        (Status.ACKNOWLEDGED, Status.ACKNOWLEDGED, "Incident #7 is already acknowledged"),
        (Status.MITIGATED, Status.ACKNOWLEDGED, "is mitigated, so it can't be acknowledged"),
        (Status.CLOSED, Status.RESOLVED, "Closed incidents are final"),
        (Status.TRIGGERED, Status.CLOSED, "From here it can be acknowledged or marked mitigated or resolved"),
    ],
)
def test_invalid_transitions_say_why(current: Status, target: Status, message: str) -> None:
    with pytest.raises(InvalidTransition, match=message):
        ensure_transition(current, target, number=7)


def test_every_open_status_can_be_resolved() -> None:
    assert all(can_transition(status, Status.RESOLVED) for status in OPEN_STATUSES)


@given(st.lists(st.sampled_from(list(Status)), max_size=30))
def test_no_walk_ever_reaches_acknowledged_from_resolved_without_a_reopen(path: list[Status]) -> None:
    status = Status.TRIGGERED
    for target in path:
        if not can_transition(status, target):
            with pytest.raises(InvalidTransition):
                ensure_transition(status, target, number=1)
            continue
        if status in (Status.RESOLVED, Status.CLOSED):
            assert target in (Status.CLOSED, Status.TRIGGERED)
        status = target
    assert status in ALLOWED
