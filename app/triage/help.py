"""Which help a reporter is shown for what their report tells (confirmation and /status)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.config import Resource
from app.triage.scoring import COERCION

SEXUAL_CATEGORIES = {"rape", "sexual_assault"}
SEXUAL_SIGNALS = {"sexual_violence", "recent_sexual_violence"}
# Every sign of coercion or confinement, and the rules that fire on them.
COERCION_SIGNALS = {*COERCION, "coercion", "confined_now", "locked_in_now", "held_now"}
SELF_HARM_SIGNALS = {"self_harm", "self_harm_now"}


def help_topics(level: int, category: str, signals: Iterable[str]) -> list[str]:
    """The help topics of a case: ``danger`` for imminent danger, then what it tells of.

    A matter told of in the past still gets its help ("past:sexual_violence"); one denied
    ("denied:weapon") does not."""
    told = {signal.split(":", 1)[-1] for signal in signals if not signal.startswith("denied:")}
    topics = ["danger"] if level == 0 else []
    if category in SEXUAL_CATEGORIES or told & SEXUAL_SIGNALS:
        topics.append("sexual_violence")
    if category == "exploitation" or told & COERCION_SIGNALS:
        topics.append("coercion")
    if told & SELF_HARM_SIGNALS:
        topics.append("self_harm")
    return topics


def resources_for(topics: Sequence[str], resources: Iterable[Resource]) -> list[Resource]:
    """The resources for ``topics``, those for danger (911) first, each once."""
    wanted = [r for r in resources if set(r.topics) & set(topics)]
    return sorted(wanted, key=lambda r: "danger" not in r.topics)
