"""Logs: one JSON object a line on stderr, with a `level` key, and never a token.

A redaction filter masks anything token-shaped in the message and its extras, and library
request lines (httpx prints full URLs) are quieted to WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.redact import mask_secrets

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_secrets(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = mask_secrets(str(value)) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = mask_secrets(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
        return json.dumps(entry, default=str, ensure_ascii=False)


QUIET = ("httpx", "httpcore", "aiohttp.access", "asyncio")
# Database drivers whose DEBUG lines carry SQL parameters (tokens, client ids, user text): they
# never speak below INFO, whatever JUPITER_LOG_LEVEL says.
DRIVERS = ("aiosqlite", "asyncpg")


def setup_logging(level: str = "INFO", quiet: Iterable[str] = (), path: Path | None = None) -> None:
    """JSON lines on stderr, or appended to `path` (a terminal chat keeps its screen for the
    chat); the libraries in `QUIET` and `quiet` (adapters add their SDKs' loggers) speak only
    from WARNING up, so their request chatter never reaches the logs."""
    handler: logging.Handler = (
        logging.FileHandler(path, encoding="utf-8") if path else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (*QUIET, *quiet):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for driver in DRIVERS:
        logging.getLogger(driver).setLevel(max(logging.INFO, logging.getLevelName(level)))
