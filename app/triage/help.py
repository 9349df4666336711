"""Which help a reporter is shown for what their report tells (confirmation and /status)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.config import Resource

SEXUAL_CATEGORIES = {"rape", "sexual_assault"}
# The rules stored with a case (app/triage/scoring.py) that call for each kind of help.
SEXUAL_RULES = {"recent_sexual_violence"}
COERCION_RULES = {"coercion", "confined_now", "locked_in_now", "held_now", "writing_in_secret"}
SELF_HARM_RULES = {"self_harm", "self_harm_now"}


def help_topics(level: int, category: str, signals: Iterable[str]) -> list[str]:
    """The help topics of a case, from its level, category and the rules that fired:
    ``danger`` for imminent danger, then what the report tells of."""
    fired = set(signals)
    topics = ["danger"] if level == 0 else []
    if category in SEXUAL_CATEGORIES or fired & SEXUAL_RULES:
        topics.append("sexual_violence")
    if category == "exploitation" or fired & COERCION_RULES:
        topics.append("coercion")
    if fired & SELF_HARM_RULES:
        topics.append("self_harm")
    return topics


def resources_for(topics: Sequence[str], resources: Iterable[Resource]) -> list[Resource]:
    """The resources for ``topics``, those for danger (911) first, each once."""
    wanted = [r for r in resources if set(r.topics) & set(topics)]
    return sorted(wanted, key=lambda r: "danger" not in r.topics)
