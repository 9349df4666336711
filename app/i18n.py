"""Choosing the reporter's language: their explicit choice, then their browser's."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request, session
from flask_babel import Babel, get_locale
from werkzeug.wrappers import Response

from app.security import PUBLIC, allow

def language_choices() -> list[tuple[str, str]]:
    """The configured languages, each with its name in its own script."""
    settings = current_app.config["CONFIDE"]
    return [(code, settings.language_names[code]) for code in settings.languages]


def select_locale() -> str:
    languages = current_app.config["CONFIDE"].languages
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or "en"


def safe_next(target: str | None) -> str:
    """Only a path on this site; anything else goes home."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@allow(PUBLIC)
def set_language(code: str) -> Response:
    if code in current_app.config["CONFIDE"].languages:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")), 303)


def init_i18n(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.add_url_rule("/language/<code>", "set_language", set_language)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            "current_language": str(get_locale()),
            "languages": language_choices(),
        }
