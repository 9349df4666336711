"""How soon a case must be acknowledged: by its level, and for a support request by its own
target unless triage raised it."""

from __future__ import annotations

from app.config import current_settings
from app.vocabulary import SUPPORT

ROUTINE = 3


def ack_hours(level: int, kind: str = "report") -> int:
    """Hours within which a case of ``level`` and ``kind`` must be acknowledged.

    A report: its level's target (``triage.ack_hours``). A support request: ``support.ack_hours``
    while triage leaves it routine (L3); raised above that by what she wrote, the level's own
    target when it is sooner, so danger keeps its hour."""
    by_level = current_settings().triage.ack_hours[level]
    if kind != SUPPORT:
        return by_level
    own = current_settings().support.ack_hours
    return own if level >= ROUTINE else min(own, by_level)
