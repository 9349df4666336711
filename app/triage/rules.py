"""The triage rules of a running app: its lexicon, checked at start and compiled once."""

from __future__ import annotations

from flask import Flask, current_app

from app.config import ConfigError, current_settings
from app.triage.concepts import check_concepts
from app.triage.scoring import TriageRules

EXTENSION = "confide_triage_rules"


def init_rules(app: Flask) -> None:
    """Refuse to start with a lexicon naming a concept triage does not know."""
    settings = app.config["CONFIDE"].triage
    try:
        check_concepts([*settings.lexicon, *settings.added_words])
    except ValueError as error:
        raise ConfigError(f"triage.lexicon: {error}") from None


def current_rules() -> TriageRules:
    """The compiled rules, built on first use (compiling takes a tenth of a second)."""
    rules: TriageRules | None = current_app.extensions.get(EXTENSION)
    if rules is None:
        rules = TriageRules.from_settings(current_settings().triage)
        current_app.extensions[EXTENSION] = rules
    return rules
