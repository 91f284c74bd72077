"""Structured logs: one JSON object per line.

Fields: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg``, ``exc`` (traceback, if any),
and every ``extra={...}`` key given to the log call. Never pass secrets as extras.

Secrets are redacted at the root, whatever library logs them and at any level (uvicorn logs
each WebSocket handshake with its ``?token=`` query): :func:`setup_logging` installs a log
record factory that redacts every record's message as it is made (so every handler sees it
redacted, a test's capture handler too), and a :class:`RedactSecrets` filter on its handler
that also redacts extras and tracebacks. :func:`redact` names what counts as a secret:
callbridge tokens (``cbk_…`` keys, ``cbs_…`` sessions, ``cbc_…`` sign-in codes), JWTs,
``Bearer``/``Basic`` credentials, and the values of query or form fields named like
``token``, ``sig``, ``secret``, ``password``, ``code``.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

__all__ = ["JsonFormatter", "RedactSecrets", "redact", "setup_logging"]

_SECRET = re.compile(
    r"cb[ksc]_[A-Za-z0-9_-]{6,}"  # callbridge API keys, operator sessions, sign-in codes
    r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|(?<=Bearer )[^\s\"',;]+|(?<=Basic )[^\s\"',;]+"
    r"|(?i:(?<=token=)|(?<=sig=)|(?<=secret=)|(?<=password=)|(?<=[?&#\s]code=)|(?<=^code=)"
    r"|(?<=token%5D=)|(?<=token\]=))[^&\s\"',;]+"
)
REDACTED = "***"


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``***``."""
    return _SECRET.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    return value


def _redact_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        return
    record.msg, record.args = redact(message), None


class RedactSecrets(logging.Filter):
    """Redacts a record in place: message, extras and traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_message(record)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_"):
                record.__dict__[key] = _redact_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    _redact_message(record)
    return record


_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)
_encoder = msgspec.json.Encoder(enc_hook=repr)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_text:
            doc["exc"] = record.exc_text
        elif record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(doc).decode()


def setup_logging(
    level: str | int = "INFO", *, json: bool = True, stream: IO[str] | None = None
) -> None:
    """Configure the root logger once: JSON lines (or plain text) to ``stream`` (stderr)."""
    logging.setLogRecordFactory(_redacting_factory)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets())
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
