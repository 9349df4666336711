"""The Confide web application."""

from __future__ import annotations

import importlib
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import INSTANCE, ROOT, Settings, load_settings, private_folder, private_instance, redis_warnings
from app.crypto import Keyring, KeyringError, load_keyring
from app.extensions import babel, csrf, db, limiter, migrate
from app.keystore import keys_dir
from app.logs import configure_logging
from app.security import init_security
from app.text import closed_bidi

__all__ = ["ROOT", "create_app"]

SESSION_LABEL = "flask-session"


def _running_keys_command() -> bool:
    # `flask keys init` must work before a keyring exists, in every environment.
    return Path(sys.argv[0]).name == "flask" and sys.argv[1:2] == ["keys"]


def _session_keys(settings: Settings, keyring: Keyring | None) -> tuple[str, list[str]]:
    """The key that signs session cookies, from the active root version, and the keys of the
    older versions still in the keyring: a cookie signed before `flask keys rotate-root` still
    opens, so nobody signed in is signed out by it (a new process signs with the new key)."""
    if settings.secret_key or keyring is None:
        return settings.secret_key, []
    older = [keyring.derive(SESSION_LABEL, version=version).hex() for version in keyring.older_roots()]
    return keyring.derive(SESSION_LABEL).hex(), older


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app from ``settings`` (default: config file and environment)."""
    settings = settings or load_settings(overrides=overrides)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE),
    )
    configure_logging(app, settings)
    try:
        private_instance()
    except OSError as error:  # a folder this account does not own: its owner must tighten it
        app.logger.warning("instance folder %s left as it is: %s", INSTANCE, error.strerror)
    for warning in (*settings.deprecations, *redis_warnings(settings)):
        app.logger.warning("%s", warning)

    try:
        keyring = load_keyring(keys_dir(settings))
    except KeyringError as error:
        if not (settings.development or _running_keys_command()):
            raise KeyringError(f"refusing to start: {error}") from None
        app.logger.warning("no usable keyring (%s); reports cannot be taken", error)
        keyring = None
    app.extensions["confide_keyring"] = keyring

    secret, fallbacks = _session_keys(settings, keyring)
    app.config.update(
        CONFIDE=settings,
        SECRET_KEY=secret or None,
        SECRET_KEY_FALLBACKS=fallbacks,
        SQLALCHEMY_DATABASE_URI=_database_uri(settings, app),
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        SESSION_COOKIE_NAME="confide",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        # A form's token lives as long as its session; an expired one is handled kindly.
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_DEFAULT_TIMEZONE=settings.display_timezone,
        BABEL_TRANSLATION_DIRECTORIES=";".join([*settings.catalog_dirs, str(ROOT / "app" / "translations")]),
        RATELIMIT_STORAGE_URI=settings.rate_limit_storage_url or settings.redis_url,
        RATELIMIT_KEY_PREFIX=f"{settings.queue_prefix}-limits",
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_HEADERS_ENABLED=False,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    )
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count)  # type: ignore[method-assign]

    # Whatever a page shows leaves no direction override open (app/text.py).
    app.jinja_options = {**app.jinja_options, "finalize": closed_bidi}
    db.init_app(app)
    _tune_sqlite(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    # Access is decided before anything else looks at the request, CSRF included: a
    # request from the wrong person is refused (and audited) whatever else is wrong with it.
    init_security(app)
    csrf.init_app(app)
    limiter.init_app(app)
    from app.i18n import init_i18n

    init_i18n(app, babel)
    from app.templating import init_templating

    init_templating(app)

    import_models()
    from app import (
        audit,
        backup,
        casework,
        circles,
        doctor,
        errors,
        health,
        insights,
        intake,
        keys_cli,
        program,
        referrals,
        retention,
        rights,
        staff,
        triage,
    )

    # The audit log listens first: it records an event before any feature acts on it.
    for feature in (
        audit,
        triage,
        intake,
        staff,
        program,
        casework,
        referrals,
        retention,
        insights,
        rights,
        circles,
        backup,
    ):
        feature.init_app(app)
    app.register_blueprint(health.blueprint)
    errors.init_errors(app)
    keys_cli.init_cli(app)
    doctor.init_cli(app)
    return app


def _database_uri(settings: Settings, app: Flask) -> str:
    uri = settings.database_url
    prefix = "sqlite:///"
    if uri.startswith(prefix) and ":memory:" not in uri:
        location, mark, query = uri[len(prefix) :].partition("?")
        path = Path(location)
        if not path.is_absolute():
            # Relative SQLite paths are relative to the project, wherever the app is started.
            path = ROOT / path
            uri = prefix + str(path) + mark + query
        _private_file(path)
    return uri


def _private_file(path: Path) -> None:
    """The SQLite database readable by this account alone: its folder 0700, the file 0600
    (SQLite gives its -wal and -shm files the database file's permissions)."""
    private_folder(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets the worker write while the web app reads; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A deleted row's bytes are overwritten with zeros, not left in free pages: a shredded
    # case's wrapped key and ciphertexts are gone from the file, not only from the tables.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _tune_sqlite(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def _engine_options(settings: Settings) -> dict[str, Any]:
    # Never echo bound parameters into exception text or logs.
    options: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
    if settings.database_url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 15}
    elif settings.database_url.startswith("postgresql"):
        limits = settings.database_limits
        options["connect_args"] = {
            "options": f"-c statement_timeout={limits.statement_seconds}s -c lock_timeout={limits.lock_seconds}s "
            f"-c idle_in_transaction_session_timeout={limits.idle_in_transaction_seconds}s"
        }
    return options


# Every module that declares tables: the app and the migrations (migrations/env.py) import
# the same list, so the metadata knows every table.
MODEL_MODULES = (
    "app.cases.models",
    "app.staff.models",
    "app.audit.models",
    "app.intake.models",
    "app.triage.models",
    "app.referrals.models",
    "app.notify.models",
    "app.rights.models",
    "app.circles.models",
    "app.retention.models",
)


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
