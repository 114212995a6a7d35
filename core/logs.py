"""structlog configuration: JSON lines in production, readable console output in development.

pagemill's own events go straight to stderr through structlog's native logger (no stdlib
logging on the hot path: a request line costs a few microseconds); stdlib loggers (aiohttp,
arq) are rendered by the same processors.
"""

import logging
import sys

import structlog


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Configure structlog and route stdlib logging through the same renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if log_format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # arq logs every job start/end and a health line every few seconds at INFO; our jobs log their own events.
    logging.getLogger("arq").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
