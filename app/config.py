"""Typed, frozen settings from a TOML file plus ``CONFIDE_*`` environment overrides.

``CONFIDE_CONFIG`` names the TOML file; without it the defaults below apply. Unknown keys
are rejected so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

# The project's folder: relative paths in the settings are relative to it, not to the caller.
ROOT = Path(__file__).resolve().parent.parent
# Flask's instance folder: by default the SQLite database, the audit checkpoints, the font cache.
INSTANCE = ROOT / "instance"

ENV_PREFIX = "CONFIDE_"
ENVIRONMENTS = ("development", "test", "production")
# Anyone holding the metrics token can watch how busy the program is: not a word to guess.
METRICS_TOKEN_MIN = 32
# An age X25519 public key: "age1" and 58 characters of Bech32.
AGE_RECIPIENT_RE = re.compile(r"age1[02-9ac-hj-np-z]{58}")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which field and why."""


@dataclass(frozen=True)
class Contact:
    label: dict[str, str]
    value: str
    href: str = ""


# What a resource helps with; a reporter is shown the resources for what their report tells.
HELP_TOPICS = ("danger", "sexual_violence", "coercion", "self_harm")


@dataclass(frozen=True)
class Resource:
    name: str
    about: dict[str, str]
    contacts: tuple[Contact, ...] = ()
    warning: dict[str, str] = field(default_factory=dict)
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriageSettings:
    ack_hours: tuple[int, int, int, int]
    feedback_days: int
    feedback_reminder_days: int
    route_batch: int
    # lexicon[concept][language]: words and phrases; added_words: a deployment's additions.
    lexicon: dict[str, dict[str, tuple[str, ...]]]
    added_words: dict[str, dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class SupportSettings:
    # Hours to acknowledge a support request that triage left routine (L3).
    ack_hours: int


@dataclass(frozen=True)
class BackupSettings:
    # age recipients (age1...) every backup is encrypted to, and a file of more, one a line.
    recipients: tuple[str, ...]
    recipients_file: str
    # Where the time of the last backup made is written (app/backup/state.py).
    state_file: str


@dataclass(frozen=True)
class MailSettings:
    backend: str
    host: str
    port: int
    starttls: bool
    username: str
    password: str
    sender: str
    digest_minutes: int


@dataclass(frozen=True)
class PagingSettings:
    timeout_seconds: int
    allow_plain_http: bool


@dataclass(frozen=True)
class WellbeingSettings:
    # More severe cases (L0/L1) than this given to one person in 7 days prompts the
    # coordinators to check in with them.
    severe_week_limit: int
    # Routing gives a severe case to whoever has had the fewest severe cases in 7 days first.
    prefer_fewer_severe: bool


@dataclass(frozen=True)
class RetentionSettings:
    # Days a closed case is kept after closing: in general, recorded only as she asked, and
    # closed without ever being acknowledged (spam).
    closed_days: int
    record_only_days: int
    unacknowledged_days: int
    # The reporter's last sign-in or message keeps her case at least this long after it.
    activity_days: int
    # The coordinators' weekly digest lists what goes within this many days.
    digest_days: int


@dataclass(frozen=True)
class DatabaseLimits:
    statement_seconds: int
    lock_seconds: int
    idle_in_transaction_seconds: int


@dataclass(frozen=True)
class RateLimits:
    report: str
    report_all: str
    status: str
    staff_login: str
    staff_search: str


# Every field is documented, with its default, in config.example.toml, which is also the
# base layer every configuration is read over; so the example can never fall behind.
@dataclass(frozen=True)
class Settings:
    env: str
    secret_key: str
    database_url: str
    redis_url: str
    rate_limit_storage_url: str
    queue_prefix: str
    keys_dir: str
    log_file: str
    log_level: str
    audit_checkpoints: str
    audit_checkpoint_minutes: int
    secure_cookies: bool
    proxy_count: int
    session_idle_minutes: int
    insights_cache_seconds: int
    kek_retire_after_days: int
    staff_session_hours: int
    reauth_minutes: int
    invite_valid_hours: int
    public_url: str
    display_timezone: str
    max_request_bytes: int
    narrative_max_chars: int
    message_max_chars: int
    quick_exit_url: str
    languages: tuple[str, ...]
    language_names: dict[str, str]
    catalog_dirs: tuple[str, ...]
    licensing_board: tuple[str, ...]
    metrics_token: str
    rate_limits: RateLimits
    database_limits: DatabaseLimits
    mail: MailSettings
    paging: PagingSettings
    triage: TriageSettings
    wellbeing: WellbeingSettings
    support: SupportSettings
    retention: RetentionSettings
    backup: BackupSettings
    resources: tuple[Resource, ...]
    # Not a setting: what the configuration said in words no longer used, logged at start.
    deprecations: tuple[str, ...] = field(default=(), metadata={"internal": True})

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def base_url(self) -> str:
        """The old name of ``public_url``."""
        return self.public_url

    def public_link(self, path: str) -> str:
        """The absolute address of ``path`` (starting with "/") as people reach the site."""
        return self.public_url.rstrip("/") + path


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        return _build(hint, value, where)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0], f"{where}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where} must have {len(args)} items")
        return tuple(_coerce(item, arg, f"{where}[{i}]") for i, (item, arg) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table")
        return {str(k): _coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{where}: unions are not supported")
    if hint is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if hint is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a whole number") from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be text")
        return value
    raise ConfigError(f"{where}: unsupported type {hint!r}")


def _build(cls: Any, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown setting {where + '.' if where else ''}{unknown[0]}")
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise ConfigError(f"missing setting {where + '.' if where else ''}{missing[0]}")
    values = {name: _coerce(value, hints[name], f"{where}.{name}" if where else name) for name, value in data.items()}
    return cls(**values)


EXAMPLE_PATH = Path(__file__).resolve().parent.parent / "config.example.toml"


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value in ``top`` replaces the base value."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path}: {error}") from None


def redis_warnings(settings: Settings) -> list[str]:
    """What is unsafe about the Redis servers production uses: anyone who can write to one
    can fill the queues and read which cases wait (see README, "Redis")."""
    if settings.env != "production":
        return []
    warnings = []
    for name in ("redis_url", "rate_limit_storage_url"):
        url = urlsplit(getattr(settings, name))
        if url.scheme in ("", "unix"):
            continue  # the same server as redis_url, or a socket only this host can open
        if not url.password:
            warnings.append(f"{name}: Redis without a password; set one (requirepass or an ACL user)")
        if url.scheme == "redis" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            warnings.append(f"{name}: Redis on another host without TLS; use rediss://")
    return warnings


# Settings renamed: old name → new name. A file or environment using the old name still works,
# with a note in the log at start.
RENAMED = {"base_url": "public_url"}


def _renamed(data: dict[str, Any], layer: str) -> list[str]:
    """Move renamed settings in ``data`` to their new names; returns a note for each."""
    notes = []
    for old, new in RENAMED.items():
        if old in data:
            value = data.pop(old)
            if new not in data:
                data[new] = value
            notes.append(f"{layer}: the setting {old} is now called {new}; rename it (the old name will stop working)")
    return notes


def _public_url_problem(settings: Settings) -> str | None:
    url = urlsplit(settings.public_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        return f"public_url {settings.public_url!r} must be a full address, e.g. https://confide.example.org"
    if settings.env == "production" and url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        # Links in emails and enrolment links would send people to the site without TLS,
        # where the secure session cookie is never sent back.
        return f"env is production but public_url {settings.public_url!r} is http://; use the https:// address"
    return None


def load_settings(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the example defaults, ``path`` (or ``$CONFIDE_CONFIG``), the environment,
    then ``overrides``, each layer over the one before."""
    data = _read_toml(EXAMPLE_PATH)
    notes: list[str] = []
    path = path or os.environ.get(ENV_PREFIX + "CONFIG")
    if path:
        own = _read_toml(path)
        notes += _renamed(own, str(path))
        data = _merge(data, own)
    for old_name, new_name in RENAMED.items():
        value = os.environ.get(ENV_PREFIX + old_name.upper())
        if value is not None:
            # The new name, read just below, wins when both are set.
            data[new_name] = value
            notes.append(
                f"environment: {ENV_PREFIX}{old_name.upper()} is now called {ENV_PREFIX}{new_name.upper()}; "
                "rename it (the old name will stop working)"
            )
    hints = typing.get_type_hints(Settings)
    for name, hint in hints.items():
        env_value = os.environ.get(ENV_PREFIX + name.upper())
        if env_value is not None and hint in (str, int, bool):
            data[name] = env_value
    top = dict(overrides or {})
    notes += _renamed(top, "overrides")
    data = _merge(data, top)
    settings: Settings = dataclasses.replace(_build(Settings, data, ""), deprecations=tuple(notes))
    if settings.env not in ENVIRONMENTS:
        raise ConfigError(f"env must be one of {', '.join(ENVIRONMENTS)}")
    if settings.env == "production" and not settings.secure_cookies:
        raise ConfigError(
            "env is production but secure_cookies is false: sessions would travel without TLS "
            "(set secure_cookies = true and serve the site over HTTPS)"
        )
    problem = _public_url_problem(settings)
    if problem:
        raise ConfigError(problem)
    if settings.session_idle_minutes < 1:
        raise ConfigError("session_idle_minutes must be at least 1")
    if settings.kek_retire_after_days < 0:
        raise ConfigError("kek_retire_after_days must be 0 or more")
    if settings.insights_cache_seconds < 0:
        raise ConfigError("insights_cache_seconds must be 0 or more")
    if settings.mail.digest_minutes < 1 or settings.audit_checkpoint_minutes < 1:
        raise ConfigError("mail.digest_minutes and audit_checkpoint_minutes must be at least 1")
    if settings.metrics_token and len(settings.metrics_token) < METRICS_TOKEN_MIN:
        raise ConfigError(
            f"metrics_token must be at least {METRICS_TOKEN_MIN} characters: make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if not 1 <= settings.paging.timeout_seconds <= 30:
        raise ConfigError("paging.timeout_seconds must be from 1 to 30: a page must not hold up the worker")
    if settings.support.ack_hours < 1:
        raise ConfigError("support.ack_hours must be at least 1")
    retention = settings.retention
    if min(retention.closed_days, retention.record_only_days, retention.unacknowledged_days) < 1:
        raise ConfigError("retention: a case is kept at least 1 day after it is closed")
    if retention.activity_days < 0 or retention.digest_days < 1:
        raise ConfigError("retention.activity_days must be 0 or more, and retention.digest_days at least 1")
    if settings.triage.route_batch < 1:
        raise ConfigError("triage.route_batch must be at least 1")
    if settings.wellbeing.severe_week_limit < 0:
        raise ConfigError("wellbeing.severe_week_limit must be 0 or more")
    try:
        ZoneInfo(settings.display_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"display_timezone {settings.display_timezone!r} is not a known time zone") from None
    bad = [r for r in settings.backup.recipients if not AGE_RECIPIENT_RE.fullmatch(r)]
    if bad:
        raise ConfigError(f"backup.recipients: {bad[0]!r} is not an age public key (age1..., from age-keygen)")
    if settings.mail.backend not in ("console", "smtp"):
        raise ConfigError("mail.backend must be console or smtp")
    for resource in settings.resources:
        unknown = sorted(set(resource.topics) - set(HELP_TOPICS))
        if unknown:
            raise ConfigError(
                f"resources: {resource.name}: unknown topic {unknown[0]!r}; known: {', '.join(HELP_TOPICS)}"
            )
    if not any("danger" in resource.topics for resource in settings.resources):
        raise ConfigError(
            "resources: none has the topic danger (911): a report in danger would be shown no "
            "emergency number (resources used to mark it with emergency = true)"
        )
    if "en" not in settings.languages:
        raise ConfigError("languages must include en, the language every text falls back to")
    unnamed = [code for code in settings.languages if not settings.language_names.get(code)]
    if unnamed:
        raise ConfigError(f"language_names: no name for {unnamed[0]!r} (its name in its own script)")
    return settings


def current_settings() -> Settings:
    """The running app's settings, typed (create_app keeps them in app.config["CONFIDE"])."""
    settings: Settings = current_app.config["CONFIDE"]
    return settings


def private_folder(path: Path) -> None:
    """Make ``path``, a folder the app keeps its own files in, readable by this account alone.

    A missing folder is made 0700, and so is the instance folder when ``path`` is in it. The
    instance folder and the folders in it are tightened to 0700 even when they exist already:
    an older version, or a tool that made a folder inside, may have left them open to anyone.
    Any other folder that exists is left as the operator set it up (it may be shared, as /tmp is).
    """
    instance = INSTANCE
    inside = path == instance or instance in path.parents
    for folder in (instance, path) if inside else (path,):
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif inside and folder.stat().st_mode & 0o077:
            folder.chmod(0o700)


def private_instance() -> None:
    """The instance folder, if it exists, readable by this account alone, whatever the database:
    it may hold the audit checkpoints and caches even when the data is in PostgreSQL."""
    if INSTANCE.exists():
        private_folder(INSTANCE)
