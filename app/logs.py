"""Logging: the app's own messages only. No request lines, so no addresses or user agents."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from app.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(app: Flask, settings: Settings) -> None:
    handler: logging.Handler
    if settings.log_file:
        handler = logging.FileHandler(settings.log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    confide = logging.getLogger("confide")
    for old in list(confide.handlers):
        confide.removeHandler(old)
        old.close()
    confide.addHandler(handler)
    confide.setLevel(settings.log_level)
    confide.propagate = False
    app.logger.handlers.clear()
    app.logger.addHandler(handler)
    app.logger.setLevel(settings.log_level)
    app.logger.propagate = False
    # The development server logs every request with the client's address: silence it.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Apprise (paging) names the address, its host or its token in its messages, and urllib3
    # the path it posts to: a paging address is a secret, so neither reaches any log.
    apprise = logging.getLogger("apprise")
    apprise.disabled = True
    apprise.propagate = False
    logging.getLogger("urllib3").setLevel(logging.ERROR)
