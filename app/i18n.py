"""Choosing the reporter's language: their explicit choice, then their browser's.

Languages are named everywhere by their configured tag (BCP 47: "zh-Hans", "pt-BR"): on
cases, staff profiles, forms and `<html lang>`. Babel names catalogs and locales with an
underscore ("zh_Hans"); only this module converts between the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, redirect, request, session
from flask_babel import Babel, force_locale, get_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.wrappers import Response

from app.access import PUBLIC, allow
from app.config import ConfigError, current_settings


def language_choices() -> list[tuple[str, str]]:
    """The configured languages, each with its name in its own script."""
    settings = current_settings()
    return [(code, settings.language_names[code]) for code in settings.languages]


def babel_id(tag: str) -> str:
    """The Babel locale id of a configured language tag: "zh-Hans" → "zh_Hans"."""
    return tag.replace("-", "_")


def current_language() -> str:
    """The configured tag of the language this request is shown in."""
    locale = get_locale()
    shown = str(locale) if locale is not None else "en"
    for tag in current_settings().languages:
        if babel_id(tag) == shown:
            return tag
    return "en"


@contextmanager
def in_language(tag: str) -> Iterator[None]:
    """Text made inside is in `tag` (a configured language, e.g. a case's)."""
    with force_locale(babel_id(tag)):
        yield


def browser_language(accepted: LanguageAccept, languages: tuple[str, ...]) -> str | None:
    """The configured language that best fits the browser's list, in the browser's order.

    A tag the program does not offer exactly falls back to one with the same primary
    language, so "zh-CN", "zh-SG" and "zh" reach "zh-Hans", and "pt-PT" reaches "pt-BR"."""
    by_primary: dict[str, str] = {}
    for tag in languages:
        by_primary.setdefault(tag.split("-")[0].lower(), tag)
    exact = {tag.lower(): tag for tag in languages}
    for value, quality in accepted:
        if quality <= 0 or value == "*":
            continue
        wanted = value.replace("_", "-").lower()
        if wanted in exact:
            return exact[wanted]
        if wanted.split("-")[0] in by_primary:
            return by_primary[wanted.split("-")[0]]
    return None


# Staff pages are written in English only; a page of theirs in a responder's browser language
# would mix that language (categories, errors) into English text under the wrong <html lang>.
STAFF_BLUEPRINTS = frozenset({"staff", "people", "cases", "referrals", "audit_log", "rights_staff"})


# Where staff pages live: an address there that matches no page is a staff page too.
STAFF_PATHS = ("/staff", "/cases", "/counsel", "/referrals")


def is_staff_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in STAFF_PATHS)


def select_locale() -> str:
    if request.blueprint in STAFF_BLUEPRINTS or is_staff_path(request.path):
        return "en"
    languages = current_settings().languages
    chosen = session.get("lang")
    if not isinstance(chosen, str) or chosen not in languages:
        chosen = browser_language(request.accept_languages, languages) or "en"
    return babel_id(chosen)


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
    if code in current_settings().languages:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")), 303)


def missing_catalogs(languages: tuple[str, ...], directories: list[str]) -> list[str]:
    """The configured languages with no compiled catalog in any of `directories`."""
    return [
        tag
        for tag in languages
        if tag != "en"
        and not any((Path(d) / babel_id(tag) / "LC_MESSAGES" / "messages.mo").is_file() for d in directories)
    ]


def init_i18n(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale)
    directories = app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    missing = missing_catalogs(app.config["CONFIDE"].languages, directories)
    if missing:
        # Its reporters would be shown English under their own language's name.
        raise ConfigError(
            f"languages: {missing[0]!r} has no compiled catalog ({babel_id(missing[0])}/LC_MESSAGES/"
            f"messages.mo) in {' or '.join(directories)}; run `make translations`"
        )
    app.add_url_rule("/language/<code>", "set_language", set_language)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {
            "current_language": current_language(),
            "languages": language_choices(),
        }
