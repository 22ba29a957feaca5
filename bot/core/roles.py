"""Incident roles that people can hold."""

from enum import StrEnum


class Role(StrEnum):
    COMMANDER = "commander"
    SCRIBE = "scribe"
    COMMS = "comms"
