"""The standard ground rules of a circle, in every language of the site.

A coordinator starts from these (in English) and may change them. Rules left as they are stay
the standard ones, and each reader sees them in her own language; rules changed are the
coordinator's words, shown as written."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

STANDARD_RULES = (
    _l("What is said in the circle stays in the circle. Do not repeat who was there or what anyone said."),
    _l("Do not name clients, employers or coworkers. Speak of them without names (a client, my manager)."),
    _l("Use a first name or a pseudonym. You never have to give your real name."),
    _l("Speak for yourself. Listen without judging, and give advice only when someone asks for it."),
    _l(
        "You may leave at any time, without a reason: close the call or walk out. You can also "
        "give up your place with your code."
    ),
    _l("The facilitator keeps the circle safe and may pause it. If you are in danger, call 911."),
)


def standard_rules_text() -> str:
    """The standard rules in English, one a line: what a coordinator's form starts with."""
    with force_locale("en"):
        return "\n".join(str(rule) for rule in STANDARD_RULES)


def _normal(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def rules_to_keep(typed: str) -> str:
    """What is stored of the rules a coordinator typed: nothing for the standard ones, as they
    are, so that every reader gets them in her language; otherwise the rules as written."""
    return "" if _normal(typed) == _normal(standard_rules_text()) or not typed.strip() else typed.strip()


def rules_to_show(kept: str) -> list[str]:
    """The rules, one item each: the standard ones in the reader's language, or the
    coordinator's own lines."""
    if not kept.strip():
        return [str(rule) for rule in STANDARD_RULES]
    return _normal(kept)


def rules_to_edit(kept: str) -> str:
    """What the coordinator's form shows: the standard rules in English, or the kept ones."""
    return kept or standard_rules_text()
