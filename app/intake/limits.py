"""How many reports may arrive, and what happens past that.

Many people can share one address: a spa's Wi-Fi, a phone carrier's network. So the limit per
connection counts over a short window (``rate_limits.report``), and a shared connection is never
shut out for long; a ceiling on all reports together (``rate_limits.report_all``), far above any
program's real load, keeps a flood from many addresses from burying the queue.

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

from app.access import hashed_client_key
from app.extensions import limiter

log = logging.getLogger("confide.intake")


@lru_cache(maxsize=16)
def _parsed(limit: str) -> RateLimitItem:
    return parse(limit)


def over_limits(*, count: bool = True) -> str | None:
    """Which limit a report from this connection is over: "connection", "everyone", or None.

    With ``count``, a report within both limits is counted against them; one over a limit
    is not. A report that signals danger is filed whatever this says; it is only looked at
    (``count=False``), so a flood of them cannot use up everyone else's ceiling."""
    app = current_app
    settings = app.config["CONFIDE"].rate_limits
    prefix = app.config["RATELIMIT_KEY_PREFIX"]
    limits = (
        ("connection", _parsed(settings.report), (prefix, hashed_client_key(), "report")),
        ("everyone", _parsed(settings.report_all), (prefix, "everyone", "report")),
    )
    try:
        strategy = limiter.limiter
        for name, item, keys in limits:
            if not strategy.test(item, *keys):
                return name
        if count:
            for _, item, keys in limits:
                strategy.hit(item, *keys)
    except Exception:  # noqa: BLE001 - any storage failure: admit, as Flask-Limiter does
        log.warning("report limits could not be checked; letting the report through")
    return None
