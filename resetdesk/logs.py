"""One logging setup for every long-running process (``up``, ``serve``, ``consume``, ``relay``,
``scheduler``, ``dlq archive``).

Lines go to stderr (stdout keeps the banners a command prints). Human-readable by default::

    2024-05-01 17:30:05.123 INFO consumers.amqp.consumer: consumer verification: … ticket=… message=…

and one JSON object per line with ``RESETDESK_LOGGING__FORMAT=json`` (``ts``, ``level``,
``logger``, ``msg``, ``ticket_id``, ``message_id``, ``role``, ``pid``, and ``exc`` when there is
one), for a log store to index. ``RESETDESK_LOGGING__LEVEL`` sets the level (the settings'
``logging`` group: a bad value stops the process as it loads them). Ticket and message ids come from
:mod:`workflow.logcontext`; every message, argument and traceback is masked
(:mod:`resetdesk.masking`) before any handler formats it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Final, Protocol

from resetdesk.masking import mask
from workflow.logcontext import current

FORMATS: Final = ("human", "json")
#: chatty at INFO (a line per scheduler run, per HTTP call made): shown from DEBUG only
QUIET_BELOW_DEBUG: Final = ("alembic", "apscheduler", "amqp", "kombu", "pika", "httpx", "httpcore", "asyncio",
                                  "transitions")
_OURS: Final = "_resetdesk_handler"


class LogSettings(Protocol):
    """The settings' ``logging`` group (``resetdesk.settings_groups.LoggingSettings``)."""

    @property
    def format(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def access(self) -> bool: ...


class ContextFilter(logging.Filter):
    """Masks the record and adds ``ticket_id``, ``message_id`` and ``role`` to it; returns True.

    It rewrites ``msg``/``args`` into the masked text and pre-renders the masked traceback into
    ``exc_text`` (which ``Formatter.format`` uses as it is), so any formatter shows it masked.
    """

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_resetdesk_masked", False):
            record.msg, record.args = mask(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = mask(record.exc_text)
            if record.stack_info:
                record.stack_info = mask(record.stack_info)
            record._resetdesk_masked = True
        ticket_id, message_id = current()
        if getattr(record, "ticket_id", None) is None:
            record.ticket_id = ticket_id
        if getattr(record, "message_id", None) is None:
            record.message_id = message_id
        record.role = self.role
        return True


class HumanFormatter(logging.Formatter):
    default_msec_format = "%s.%03d"

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name, value in (
            ("ticket", getattr(record, "ticket_id", None)),
            ("message", getattr(record, "message_id", None))) if value]
        if not ids:
            return line
        head, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} {' '.join(ids)}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "ticket_id": getattr(record, "ticket_id", None),
            "message_id": getattr(record, "message_id", None),
            "role": getattr(record, "role", None),
            "pid": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(fmt: str, role: str, stream: Any = None) -> logging.Handler:
    """A stderr handler in ``fmt`` (human | json) that masks and adds the context."""
    if fmt not in FORMATS:
        raise ValueError(f"RESETDESK_LOGGING__FORMAT must be one of {', '.join(FORMATS)}, "
                         f"not {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    handler.addFilter(ContextFilter(role))
    setattr(handler, _OURS, True)
    return handler


def logging_configured() -> bool:
    """Whether this process installed the one handler (a long-running command did)."""
    return any(getattr(h, _OURS, False) for h in logging.getLogger().handlers)


def configure_logging(settings: LogSettings, role: str, stream: Any = None) -> None:
    """Install the one handler on the root logger (again: replaces it); ``role`` names the
    process in JSON lines (``up``, ``serve``, ``consume:verification``, ``relay`` …)."""
    level = logging.getLevelName(settings.level.upper())
    if not isinstance(level, int):
        raise ValueError(f"RESETDESK_LOGGING__LEVEL: unknown level {settings.level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    root.addHandler(make_handler(settings.format.lower(), role, stream))
    root.setLevel(level)
    for name in QUIET_BELOW_DEBUG:
        logging.getLogger(name).setLevel(logging.WARNING if level > logging.DEBUG else level)
    logging.captureWarnings(True)


def uvicorn_options(settings: LogSettings) -> dict[str, Any]:
    """``uvicorn.run`` keywords: its loggers propagate to ours (no config of its own), and the
    access log is on or off by ``RESETDESK_LOGGING__ACCESS``."""
    return {"log_config": None, "log_level": settings.level.lower(),
            "access_log": settings.access}
