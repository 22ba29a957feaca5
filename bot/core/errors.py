"""Errors of the incident core. Each one's message is written for the person who caused it."""


class CoreError(Exception):
    """An expected refusal: the message is shown to people as it is."""


class IncidentNotFound(CoreError):
    pass


class InvalidTransition(CoreError):
    pass


class InvalidInput(CoreError):
    pass


class ConcurrentChange(CoreError):
    """The incident kept changing under us; rare, and safe to retry."""


class OutsideReplayWindow(CoreError):
    """A delivery never seen before, dated outside its sender's retry window: a replay."""
