"""Configuration: every field documented, typos refused, environment wins."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from flask import Flask

from app.config import EXAMPLE_PATH, ConfigError, Settings, load_settings


def test_example_documents_every_setting() -> None:
    example = tomllib.loads(EXAMPLE_PATH.read_text())
    assert set(example) == {f.name for f in dataclasses.fields(Settings) if not f.metadata.get("internal")}
    settings = load_settings()
    assert settings.env == "development" and settings.languages == ("en", "es", "zh-Hans", "ko", "pt-BR")
    assert settings.triage.ack_hours == (1, 4, 24, 72) and settings.support.ack_hours == 72
    assert settings.wellbeing.severe_week_limit == 3 and settings.wellbeing.prefer_fewer_severe is False
    assert any(contact.value == "888-568-8332" for r in settings.resources for contact in r.contacts)


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "confide.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\n[triage]\nfeedback_days = 14\n')
    monkeypatch.setenv("CONFIDE_CONFIG", str(config))
    settings = load_settings()
    assert settings.database_url == "sqlite:///from-file.db"
    assert settings.triage.feedback_days == 14
    assert settings.triage.ack_hours == (1, 4, 24, 72), "tables merge with the defaults"
    monkeypatch.setenv("CONFIDE_DATABASE_URL", "postgresql+psycopg://db/confide")
    monkeypatch.setenv("CONFIDE_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("CONFIDE_SECURE_COOKIES", "true")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://db/confide"
    assert settings.session_idle_minutes == 15 and settings.secure_cookies is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("databse_url = 'x'", "unknown setting databse_url"),
        ("[triage]\nack_hour = [1, 2, 3, 4]", "unknown setting triage.ack_hour"),
        ("session_idle_minutes = 'soon'", "session_idle_minutes must be a whole number"),
        ("[triage]\nack_hours = [1, 2]", "triage.ack_hours must have 4 items"),
        ("[triage]\nroute_batch = 0", "triage.route_batch must be at least 1"),
        ("[wellbeing]\nsevere_limit = 5", "unknown setting wellbeing.severe_limit"),
        ("[wellbeing]\nsevere_week_limit = -1", "wellbeing.severe_week_limit must be 0 or more"),
        ("[wellbeing]\nprefer_fewer_severe = 'maybe'", "wellbeing.prefer_fewer_severe must be true or false"),
        ("[support]\nack_hours = 0", "support.ack_hours must be at least 1"),
        ("env = 'staging'", "env must be one of"),
        ("languages = ['es']", "languages must include en"),
        ("secure_cookies = 'maybe'", "secure_cookies must be true or false"),
        ("this is not toml", "config file"),
        ("[[resources]]\nname = 'Help'\nabout = { en = 'x' }", "none has the topic danger"),
        ("[[resources]]\nname = 'Help'\nabout = { en = 'x' }\ntopics = ['fire']", "unknown topic 'fire'"),
        ("[rate_limits]\nreport_all = 3", "rate_limits.report_all must be text"),
        (
            "[backup]\nrecipients = ['AGE-SECRET-KEY-1ABC']",
            "backup.recipients: 'AGE-SECRET-KEY-1ABC' is not an age public",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.env = "production"  # type: ignore[misc]


def test_periodic_intervals_must_be_at_least_a_minute() -> None:

    for overrides in ({"audit_checkpoint_minutes": 0}, {"mail": {"digest_minutes": 0}}):
        with pytest.raises(ConfigError, match="at least 1"):
            load_settings(overrides=overrides)


def test_public_url_builds_every_link(tmp_path: Path) -> None:
    config = tmp_path / "confide.toml"
    config.write_text('public_url = "https://confide.example.org/"\n')
    settings = load_settings(config)
    assert settings.public_url == "https://confide.example.org/"
    assert settings.public_link("/staff/login") == "https://confide.example.org/staff/login"
    assert settings.base_url == settings.public_url, "code written against the old name keeps working"
    assert settings.deprecations == ()


def test_the_old_name_base_url_is_still_read_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "old.toml"
    config.write_text('base_url = "https://old-name.example.org"\n')
    settings = load_settings(config)
    assert settings.public_url == "https://old-name.example.org"
    assert len(settings.deprecations) == 1 and "base_url is now called public_url" in settings.deprecations[0]

    monkeypatch.setenv("CONFIDE_BASE_URL", "https://from-env.example.org")
    settings = load_settings()
    assert settings.public_url == "https://from-env.example.org"
    assert any("CONFIDE_BASE_URL is now called CONFIDE_PUBLIC_URL" in note for note in settings.deprecations)
    monkeypatch.setenv("CONFIDE_PUBLIC_URL", "https://new-name.example.org")
    assert load_settings().public_url == "https://new-name.example.org", "the new name wins"


def test_the_deprecation_note_reaches_the_log(tmp_path: Path, keys_dir: Path) -> None:
    from app import create_app

    config = tmp_path / "old.toml"
    log = tmp_path / "confide.log"
    config.write_text(
        f'base_url = "https://old-name.example.org"\nlog_file = "{log}"\nkeys_dir = "{keys_dir}"\n'
        f'database_url = "sqlite:///{tmp_path / "x.db"}"\n'
    )
    app = create_app(load_settings(config))
    assert app.config["CONFIDE"].public_url == "https://old-name.example.org"
    assert "base_url is now called public_url" in log.read_text()


@pytest.mark.parametrize(
    ("env", "url", "refused"),
    [
        ("production", "http://confide.example.org", True),
        ("production", "https://confide.example.org", False),
        ("production", "http://127.0.0.1:5000", False),
        ("development", "http://confide.example.org", False),
        ("development", "confide.example.org", True),
    ],
)
def test_production_refuses_an_http_public_url(env: str, url: str, refused: bool) -> None:
    overrides = {"env": env, "public_url": url, "secure_cookies": True}
    if refused:
        with pytest.raises(ConfigError, match="public_url"):
            load_settings(overrides=overrides)
    else:
        assert load_settings(overrides=overrides).public_url == url


def test_a_setting_that_is_not_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting deprecations"):
        load_settings(overrides={"deprecations": ["x"]})


def test_links_printed_and_sent_are_built_on_public_url(app: Flask) -> None:
    from app.notify.sending import staff_mail
    from tests.factories import make_staff

    assert app.config["CONFIDE"].public_url == "https://confide.example"
    result = app.test_cli_runner().invoke(args=["staff", "invite", "--role", "responder", "--email", "a@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("https://confide.example/staff/enrol/")
    mail = staff_mail(make_staff("responder").user, urgent=True)
    assert "https://confide.example/staff/login" in mail.body
