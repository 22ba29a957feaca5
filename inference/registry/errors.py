"""Errors of the model registry, the same for every storage behind it.

The worker maps ``UnknownModel`` and ``UnknownVersion`` to 404 and ``RegistryUnavailable`` to
503; anything else that is a ``RegistryError`` is a refusal with a message for people.
Storage libraries' own errors (OSError, botocore) are mapped to these at the boundary.
"""

from __future__ import annotations


class RegistryError(Exception):
    """A registry operation that did not succeed; the message says why, for people."""


class InvalidModelName(RegistryError, ValueError):
    """A name that no model may have (see ``MODEL_NAME_PATTERN``)."""


class InvalidManifest(RegistryError, ValueError):
    """Manifest or deploy-log fields that break the rules (wrong type, unknown kind, ...)."""


class UnknownModel(RegistryError):
    """No version of this model has been published."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown model {name!r}: no version of it is in the registry")
        self.name = name


class UnknownVersion(RegistryError):
    """The model exists but this version of it does not."""

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"model {name!r} has no version {version!r}")
        self.name = name
        self.version = version


class CorruptVersion(RegistryError):
    """A stored version whose files are missing or do not match their manifest's sha256."""

    def __init__(self, name: str, version: str, detail: str) -> None:
        super().__init__(f"model {name!r} version {version!r} is corrupt: {detail}")
        self.name = name
        self.version = version
        self.detail = detail


class RegistryUnavailable(RegistryError):
    """The storage could not be reached or failed on its side; worth retrying later."""
