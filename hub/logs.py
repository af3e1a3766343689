"""Structured logs: one JSON object per line with the request id; never bodies or credentials."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy.exc import StatementError

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

# Loggers that would write request URLs (query strings may hold patient identifiers), statements or
# their values at DEBUG: kept at WARNING whatever HUB_LOG_LEVEL says.
QUIET = ("httpx", "httpcore", "alembic", "urllib3", "requests", "aiohttp", "sqlalchemy", "psycopg", "hpack")

# PostgreSQL's DETAIL line repeats the offending values ("Key (client_id)=(NID-1) already exists").
_DETAIL = re.compile(r"^\s*DETAIL:.*$", re.MULTILINE)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def log_fault(logger: logging.Logger, message: str, exc: BaseException, **extra: Any) -> None:
    """Log an exception raised while writing to the database by its type and stack, not its text: a
    database error's text holds the statement's values, bodies among them."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(message, extra={**extra, "error": type(exc).__name__, "stack": stack})


def _hide_statement_values(exc: BaseException | None) -> bool:
    """Make every SQLAlchemy error in ``exc``'s chain print without its bound values (bodies, hashes,
    identifiers); True when there was one."""
    found, seen = False, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StatementError):
            exc.hide_parameters = True
            found = True
        exc = exc.__cause__ or exc.__context__
    return found


def _safe_message(record: logging.LogRecord) -> str:
    args = record.args if isinstance(record.args, tuple) else (record.args,) if record.args else ()
    found = any(_hide_statement_values(a) for a in args if isinstance(a, BaseException))
    message = record.getMessage()
    return _DETAIL.sub("", message) if found else message


def _safe_exception(formatter: logging.Formatter, exc_info: ExcInfo) -> str:
    found = _hide_statement_values(exc_info[1])
    text = formatter.formatException(exc_info)
    return _DETAIL.sub("", text) if found else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _safe_message(record),
        }
        rid = request_id.get()
        if rid:
            doc["request_id"] = rid
        doc.update({k: v for k, v in vars(record).items() if k not in _STD})
        if record.exc_info:
            doc["exc"] = _safe_exception(self, record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STD)
        rid = request_id.get()
        head = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}"
        line = f"{head} {'[' + rid + '] ' if rid else ''}{_safe_message(record)} {extra}".rstrip()
        return line + ("\n" + _safe_exception(self, record.exc_info) if record.exc_info else "")


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Route the root logger (and uvicorn's) through one formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for quiet in QUIET:
        logging.getLogger(quiet).setLevel(logging.WARNING)
