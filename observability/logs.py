"""One log setup for every process: `LOG_FORMAT=json` writes one JSON object a line, `text` a
readable line; both carry the correlation id of the work a record belongs to.

JSON is the default when standard error is not a terminal (a container, a service manager, CI),
because that is where a log pipeline reads it; a person at a terminal gets text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from observability.correlation import current

LogFormat = Literal["json", "text"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"

# Libraries that log every routine step at INFO, drowning what the product says: Alembic's plugin
# announcements on import, APScheduler's every timer tick, httpx's every request, and the local
# AWS stand-in's (werkzeug) every call. Their warnings still show.
CHATTY_LOGGERS = ("alembic.runtime.plugins", "apscheduler.executors.default", "apscheduler.scheduler", "httpx",
                  "werkzeug")


class LogSettings(BaseSettings):
    """How a process logs, read from the environment before anything else runs."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True)

    # DEBUG, INFO, WARNING or ERROR: the lowest level written.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"),
        description="The lowest level of log record written.")
    # json (one object a line) or text; unset: json unless standard error is a terminal.
    log_format: LogFormat | None = Field(default=None, validation_alias=AliasChoices("LOG_FORMAT", "log_format"),
                                         description="json (one JSON object a line: time, level, logger, message, "
                                                     "correlation_id) or text; unset: json unless standard error "
                                                     "is a terminal.")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        # LOG_LEVEL=info and LOG_FORMAT=JSON are what people type; the names are case-blind.
        if not isinstance(value, str):
            return value
        if info.field_name == "log_format":
            return value.strip().lower() or None  # LOG_FORMAT= (empty) is the same as unset
        return value.strip().upper()

    def format_for(self, stream: TextIO) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return "text" if _is_terminal(stream) else "json"


class CorrelationFilter(logging.Filter):
    """Stamps each record with the correlation id current where it was logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, correlation id, and the traceback
    of an exception when there is one. Nothing else of the record is written, so an `extra=`
    argument can never carry a value into the logs unseen."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None) or current() or "-",
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> LogFormat:
    """Send every logger's records to `stream` (standard error) in the chosen format."""
    stream = stream if stream is not None else sys.stderr
    chosen = settings.format_for(stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return chosen


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
