"""structlog: JSON lines in a container, a readable console on a terminal; context bound once.

Secrets are kept out by construction: nothing logs a spec, a body or a Secret; the only values
bound are names (namespace, name, generation, pool, account). As a last line of defence every
line is masked as written, after it is rendered: the secret values the operator has read are
replaced wherever they appear, in a field, in a message of kopf's or the SDKs', or in a traceback
(the values in an exception's message included). kopf's own Kubernetes Events (its handler
failures, at WARNING and above) are written through a formatter that masks them the same way.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog


class _Secrets:
    """The secret values read so far, and the same longest first (sorted once per new value)."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.longest_first: tuple[str, ...] = ()
        self.lock = threading.Lock()


_secrets = _Secrets()
MASK = "***"


def remember_secret_values(values: Any) -> None:
    """Register values that must never be printed (every Secret value the operator read)."""
    with _secrets.lock:
        new = {v for v in values if isinstance(v, str) and len(v) >= 4} - _secrets.known
        if new:
            _secrets.known.update(new)
            _secrets.longest_first = tuple(sorted(_secrets.known, key=len, reverse=True))


def redact(text: str) -> str:
    for secret in _secrets.longest_first:  # a tuple replaced whole: read without the lock
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Before rendering as well: a value the JSON renderer escapes would no longer match as written.
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
    return event


class RedactingFormatter(logging.Formatter):
    """A stdlib formatter whose whole output, traceback included, is masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _RedactingProcessorFormatter(RedactingFormatter, structlog.stdlib.ProcessorFormatter):
    """structlog's rendering, then the mask over the line it rendered."""


def redact_handlers(logger: logging.Logger) -> None:
    """Mask what every handler of `logger` writes (kopf's Event poster formats its records with
    a plain formatter: message and traceback would reach the Event as they are)."""
    for handler in logger.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter())


def configure(*, json: bool | None = None, level: str = "INFO") -> None:
    """Console renderer on a terminal, JSON otherwise; stdlib logs (kopf, azure) go the same way."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())  # no ANSI codes into a pipe or file
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # JSON lines carry a traceback as a field (masked with the others); the console renders its own.
        *([structlog.processors.format_exc_info] if as_json else []),
        _redact_event,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _RedactingProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # azure-core logs request headers at DEBUG and bodies never; keep it at WARNING regardless.
    logging.getLogger("azure").setLevel(logging.WARNING)


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("azbatch_operator").bind(**context)
