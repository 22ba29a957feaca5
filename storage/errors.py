"""Errors raised by the storage package."""


class StorageError(Exception):
    """Base class for storage failures."""


class DatabaseUrlError(StorageError, ValueError):
    """DATABASE_URL cannot be used."""


class MigrationError(StorageError):
    """Migrating the schema to head failed."""
