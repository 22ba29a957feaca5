"""Errors of the application layer (settings, start-up)."""


class BotError(Exception):
    """Base class for application errors."""


class SettingsError(BotError):
    """The settings can't run the bot; the message names what to set."""
