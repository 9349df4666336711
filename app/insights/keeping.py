"""The figures of a period, worked out once and kept a short while (``insights_cache_seconds``).

Sorting a year of cases for the answer times is most of a dashboard's cost. A coordinator's
reloads, a second coordinator on the same months, and the CSV or PDF of the page she is
reading reuse what this web process worked out less than that many seconds ago, and the page
says when. What is kept is only what the page shows: protected counts and times, no case.
"""

from __future__ import annotations

import threading
import time

from flask import current_app

from app.config import current_settings
from app.insights.figures import Dashboard, dashboard
from app.insights.period import Period

_LOCK = threading.Lock()


def _kept() -> dict[tuple[str, ...], tuple[float, Dashboard]]:
    kept: dict[tuple[str, ...], tuple[float, Dashboard]] = current_app.extensions.setdefault("insights.kept", {})
    return kept


def figures_of(period: Period) -> Dashboard:
    """The figures of ``period``: the kept ones if fresh enough, else worked out now."""
    keep = current_settings().insights_cache_seconds
    if keep <= 0:
        return dashboard(period)
    now = time.monotonic()
    kept = _kept()
    with _LOCK:
        found = kept.get(period.months)
    if found is not None and now - found[0] < keep:
        return found[1]
    view = dashboard(period)  # two requests at once may both work it out: the same figures
    with _LOCK:
        for stale in [months for months, (made, _) in kept.items() if now - made >= keep]:
            del kept[stale]
        kept[period.months] = (now, view)
    return view
