"""How many reports may arrive, and what happens past that.

Many people can share one address: a spa's Wi-Fi, a phone carrier's network. So the limit per
connection counts over a short window (``rate_limits.report``), and a shared connection is never
shut out for long; a ceiling on all reports together (``rate_limits.report_all``), far above any
program's real load, keeps a flood from many addresses from burying the queue. Each report
form is filed once at most (its submission token), so resending a form costs nothing.

A report that signals imminent danger is filed whatever the limits say; it is marked for the
coordinators instead (see :mod:`app.intake.services`). Counters live in Redis under a keyed
hash of the connection that changes daily, never its address. If Redis cannot be reached the
limits let reports through: refusing every report is worse than an unthrottled hour.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from flask import current_app
from limits import RateLimitItem, parse

from app.extensions import limiter
from app.security import hashed_client_key

log = logging.getLogger("confide.intake")


@lru_cache(maxsize=16)
def _parsed(limit: str) -> RateLimitItem:
    return parse(limit)


def admit_report() -> bool:
    """Count one report against the limits; False if this connection, or everyone together,
    has sent more than the limits allow (the report is then not counted)."""
    app = current_app
    settings = app.config["CONFIDE"].rate_limits
    prefix = app.config["RATELIMIT_KEY_PREFIX"]
    try:
        strategy = limiter.limiter
        return strategy.hit(
            _parsed(settings.report), prefix, hashed_client_key(), "report"
        ) and strategy.hit(_parsed(settings.report_all), prefix, "everyone", "report")
    except Exception:  # noqa: BLE001 - any storage failure: admit, as Flask-Limiter does
        log.warning("report limits could not be checked; letting the report through")
        return True
