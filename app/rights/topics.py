"""What an article can match: a case's category, or what else her report tells.

A report links the articles that match any of its keys (``case_keys``): its category, the help
topics its answers and words raise (``app.triage.help``: sexual violence, coercion), and
"licensing" when she asked for help with a licensing complaint. Worked out in memory when the
page is shown; nothing about the match is stored, logged or put in a URL.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.vocabulary import CATEGORIES

# Staff pages are in English: these labels are not translated.
TOPICS = {
    "sexual_violence": "Her words tell of sexual violence (whatever the category)",
    "coercion": "Her words tell of coercion: documents held, debt, confinement (whatever the category)",
    "licensing": "She asked for help with a complaint to the licensing board",
}


def match_choices() -> list[tuple[str, str]]:
    """Every key an article may match, with its label for staff."""
    return [*((code, str(label)) for code, label in CATEGORIES.items()), *TOPICS.items()]


# Every key an article may match, in the order staff see them.
MATCH_KEYS = (*CATEGORIES, *TOPICS)


def known_matches(codes: Iterable[str]) -> list[str]:
    """``codes`` that are real keys, each once, in the order of ``MATCH_KEYS``."""
    wanted = set(codes)
    return [code for code in MATCH_KEYS if code in wanted]


def case_keys(category: str, topics: Iterable[str], wants: Iterable[str]) -> set[str]:
    """The keys of a case: its category, its help topics, and "licensing" if she wants that help."""
    keys = {category, *topics}
    if "licensing" in set(wants):
        keys.add("licensing")
    return keys
